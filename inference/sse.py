"""Server-sent events exactly as OpenAI streams them: `data: {json}\\n\\n` per chunk, then
`data: [DONE]\\n\\n`; a failure after the stream began ends it with an error event instead."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from voltcore.http import response_headers
from voltcore.streaming import ReadingStream


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = ReadingStream(
        request,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Proxies such as nginx must not buffer token-by-token output.
            "X-Accel-Buffering": "no",
            **response_headers(request),
        },
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response


async def send(response: web.StreamResponse, chunk: dict[str, Any]) -> None:
    await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")


async def fail(response: web.StreamResponse, body: dict[str, Any]) -> None:
    """End a stream with an error event (`data: {"error": {...}, "volt": {...}}`, as OpenAI
    and vLLM send one) and no `[DONE]`."""
    await send(response, body)
    await response.write_eof()


async def done(response: web.StreamResponse) -> None:
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
