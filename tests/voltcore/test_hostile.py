"""Hostile traffic beyond the schema, against the admin app served as `volt-admin serve` serves
it (voltcore.service.handler_options), with a short idle timeout: slowloris headers and
thousands of idle connections are cut by the server, malformed HTTP is a 400 that closes the
connection, hostile JSON bodies are clear 4xx errors, and through all of it another tenant is
served. (A client that stops reading a stream: tests/voltcore/test_streaming.py and
tests/inference/test_lifecycle.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from admin.app import create_app
from tests.conftest import MakeOrg, Org, serve
from voltcore.config import Settings

IDLE_S = 1.5
BODY_S = 2.0
GET = b"GET /v1/me HTTP/1.1\r\nHost: x\r\n"


@pytest_asyncio.fixture
async def hardened(settings: Settings) -> AsyncIterator[str]:
    app: web.Application = create_app(
        settings.model_copy(update={"idle_timeout_s": IDLE_S, "body_timeout_s": BODY_S})
    )
    runner, base = await serve(app)
    yield base
    await runner.cleanup()


async def connect(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = base.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server sent before it closed the connection (it must, within `within` s)."""
    async with asyncio.timeout(within):
        try:
            return await reader.read()
        except ConnectionResetError:  # closed with our unread bytes still in its buffer
            return b""


async def timed_gets(base: str, org: Org, count: int) -> list[float]:
    """`count` sequential GET /v1/me as `org` on a fresh connection each: their latencies."""
    took = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {org.key}"}) as http:
        for _ in range(count):
            started = time.perf_counter()
            async with http.get(f"{base}/v1/me", headers={"Connection": "close"}) as r:
                assert r.status == 200
                assert (await r.json())["org_id"] == org.id
            took.append(time.perf_counter() - started)
    return took


async def test_slowloris_is_cut_at_the_idle_timeout_and_others_are_served(
    hardened: str, make_org: MakeOrg
) -> None:
    victim = await make_org("Victim")
    before = statistics.median(await timed_gets(hardened, victim, 20))
    conns = [await connect(hardened) for _ in range(200)]

    async def trickle(writer: asyncio.StreamWriter) -> bool:
        """A valid request line, then a header a byte at a time: never a complete request.
        True when the server cut it off."""
        writer.write(GET)
        try:
            for _ in range(200):
                writer.write(b"X")
                await writer.drain()
                await asyncio.sleep(0.05)
        except ConnectionError:
            return True
        return False

    trickling = [asyncio.create_task(trickle(w)) for _, w in conns]
    during = statistics.median(await timed_gets(hardened, victim, 20))
    started = time.monotonic()
    for reader, _ in conns:
        assert await closed_by_server(reader, IDLE_S + 5) == b""
    assert all(await asyncio.gather(*trickling))
    print(
        f"\nslowloris: 200 connections cut within {time.monotonic() - started:.1f} s of the "
        f"attack; victim's median GET {before * 1e3:.1f} ms before, {during * 1e3:.1f} ms during"
    )


async def test_thousands_of_idle_connections_are_closed(hardened: str, org: Org) -> None:
    conns = [await connect(hardened) for _ in range(2000)]
    assert len(await timed_gets(hardened, org, 5)) == 5
    for reader, _ in conns:
        assert await closed_by_server(reader, IDLE_S + 10) == b""
    for _, writer in conns:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            GET + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n",
            id="huge-header",
        ),
        pytest.param(GET + b"X-N: 1\r\n" * 300 + b"\r\n", id="many-headers"),
        pytest.param(
            b"GET /v1/me?" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="long-url"
        ),
        pytest.param(b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", id="invalid-utf8-path"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"x" * 64, id="tls-on-http"),
        pytest.param(b"POST /v1/me HTTP/1.1\r\nContent-Length: -5\r\n\r\n", id="negative-length"),
        pytest.param(
            b"POST /v1/me HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            id="smuggling",
        ),
    ],
)
async def test_malformed_http_is_a_400_that_closes_the_connection(
    hardened: str, org: Org, request_bytes: bytes
) -> None:
    reader, writer = await connect(hardened)
    writer.write(request_bytes)
    answer = await closed_by_server(reader, 5)
    assert answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), answer[:200]
    assert b"Traceback" not in answer
    writer.close()
    assert len(await timed_gets(hardened, org, 1)) == 1  # and the server is still there


def nested(depth: int) -> bytes:
    return b'{"name":' * depth + b'"x"' + b"}" * depth


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b"[" * 30000 + b"]" * 30000, 400, "invalid_json", id="nested-arrays"),
        pytest.param(nested(5000), 400, "invalid_json", id="nested-objects"),
        pytest.param(b'{"name": "\xff\xfe"}', 400, "invalid_json", id="invalid-utf8"),
        pytest.param(b'{"name": "\\ud800"}', 400, "invalid_json", id="lone-surrogate"),
        pytest.param(b'{"name": "a"', 400, "invalid_json", id="truncated"),
        pytest.param(b'{"name": 1e99999}', 400, "invalid_json", id="huge-number"),
        pytest.param(b'{"name": "\x00"}', 400, "invalid_json", id="raw-nul"),
        pytest.param(
            b'{"name": "' + b"a" * 100_000 + b'"}', 413, "payload_too_large", id="oversized"
        ),
    ],
)
async def test_hostile_json_bodies_get_clear_errors(
    hardened: str, org: Org, body: bytes, status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {org.key}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{hardened}/v1/orgs/{org.id}/api-keys"
        async with http.post(url, data=body) as r:
            error = (await r.json())["error"]
            assert (r.status, error["code"]) == (status, code), error
            assert error["type"] == "invalid_request_error" and error["message"]

        # The same body sent chunked, with no length to refuse it by up front.
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 4096):
                yield body[i : i + 4096]

        async with http.post(url, data=chunks()) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (status, code)
    assert len(await timed_gets(hardened, org, 1)) == 1


async def test_a_body_trickled_in_is_a_408_that_closes_the_connection(
    hardened: str, org: Org
) -> None:
    reader, writer = await connect(hardened)
    writer.write(
        f"POST /v1/orgs/{org.id}/api-keys HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {org.key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
    )
    started = time.monotonic()
    sending = True

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            while sending:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.1)

    task = asyncio.create_task(trickle())
    async with asyncio.timeout(BODY_S + 5):
        head = await reader.readuntil(b"\r\n\r\n")
    assert BODY_S <= time.monotonic() - started < BODY_S + 5
    assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head, head
    length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
    error = orjson.loads(await reader.readexactly(length))["error"]
    assert error["code"] == "request_timeout" and "did not arrive" in error["message"]
    sending = False
    await task
    assert await closed_by_server(reader, 15) == b""
    assert len(await timed_gets(hardened, org, 1)) == 1
