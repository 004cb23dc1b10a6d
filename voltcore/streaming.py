"""Streamed responses whose client must keep reading. aiohttp's `write` waits for as long as
the client takes to drain the socket, so a client that connects, asks for a long stream and
then never reads would hold its handler (and with it an engine request, a file handle) for
good. Here a write that cannot hand its bytes over within `stall_timeout_s` drops the
connection and raises ConnectionResetError: the handler's disconnect path (abort, meter)
runs as when the client leaves.

    response = ReadingStream(request, headers={...})
    await response.prepare(request)
    await response.write(chunk)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import web

from voltcore.appkeys import SETTINGS


class ReadingStream(web.StreamResponse):
    def __init__(self, request: web.Request, *, headers: Mapping[str, str]) -> None:
        super().__init__(headers=headers)
        self._request = request
        self._stall_s = request.app[SETTINGS].stall_timeout_s

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            async with asyncio.timeout(self._stall_s):
                await super().write(data)
        except TimeoutError:
            transport = self._request.transport
            if transport is not None:
                transport.abort()  # what was buffered for this reader is dropped with it
            raise ConnectionResetError(
                f"the client accepted no data for {self._stall_s:g} s"
            ) from None
