"""ReadingStream against real sockets: a client that stops reading fills the kernel's buffers
(up to tcp_wmem's 4 MiB here), then the server's write waits; after stall_timeout_s the
connection is dropped and the handler sees ConnectionResetError, as for a disconnect."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web

from tests.conftest import serve
from voltcore.appkeys import SETTINGS
from voltcore.config import Settings
from voltcore.streaming import ReadingStream

STALL_S = 1.0


async def never_reading(base: str, request: bytes) -> socket.socket:
    """A client that sends `request` and then reads nothing: its receive buffer is small, so
    the server's buffers fill after a few kB (the test reads the socket when it wants to)."""
    host, port = base.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, int(port)))
    await loop.sock_sendall(sock, request)
    return sock


async def test_a_reader_that_stops_is_dropped_after_the_stall_timeout() -> None:
    ended: asyncio.Future[tuple[BaseException | None, int, float]] = asyncio.Future()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = ReadingStream(request, headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        sent, chunk = 0, b"x" * 65536
        try:
            while sent < 256 << 20:  # far past any buffer; a reader would take it all
                await response.write(chunk)
                sent += len(chunk)
        except BaseException as err:
            ended.set_result((err, sent, time.monotonic()))
            raise
        ended.set_result((None, sent, time.monotonic()))
        return response

    app = web.Application()
    app[SETTINGS] = Settings(stall_timeout_s=STALL_S)
    app.router.add_get("/", endless)
    runner, base = await serve(app)
    try:
        sock = await never_reading(base, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        err, sent, at = await asyncio.wait_for(ended, 30)
        assert isinstance(err, ConnectionResetError), err
        assert "accepted no data for 1 s" in str(err)
        assert sent < 64 << 20  # it stopped at the buffers, not at the end
        assert at - started >= STALL_S
        # The client finds the connection reset (or closed) once it reads past what arrived.
        received = 0
        try:
            while chunk := await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < sent
        sock.close()
    finally:
        await runner.cleanup()
