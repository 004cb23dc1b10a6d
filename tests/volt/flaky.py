"""A real aiohttp server on a real port that answers from a script (503s, 429s, dropped
connections, slow answers), recording every attempt, for exact retry tests."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.conftest import serve

LEASE = {
    "id": "lease_x",
    "object": "forge.lease",
    "status": "pending",
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "metro": "fra1",
    "created_at": 1,
    "last_error": None,
}


@dataclass(frozen=True)
class Answer:
    """`status` with `headers` and an error body; 200 answers `body`. `drop` closes the
    connection without answering; `delay` waits first."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    delay: float = 0.0


def error(status: int, code: str, **headers: str) -> Answer:
    return Answer(status, headers)


@dataclass
class Attempt:
    at: float
    method: str
    path: str
    # Case-insensitive, as HTTP headers are.
    headers: CIMultiDict[str]
    body: bytes


class Flaky:
    def __init__(self) -> None:
        self.base = ""
        self.script: list[Answer] = []
        self.attempts: list[Attempt] = []
        self._ids = itertools.count()

    def gaps(self) -> list[float]:
        return [b.at - a.at for a, b in itertools.pairwise(self.attempts)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts.append(
            Attempt(
                time.monotonic(),
                request.method,
                request.path,
                request.headers.copy(),
                await request.read(),
            )
        )
        answer = self.script.pop(0) if self.script else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = {"x-request-id": f"req_flaky{next(self._ids)}", **answer.headers}
        if answer.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if answer.status >= 400:
            body = {
                "error": {
                    "message": f"scripted {answer.status}",
                    "type": "server_error",
                    "param": None,
                    "code": "scripted",
                }
            }
            return web.json_response(body, status=answer.status, headers=headers)
        return web.json_response(answer.body or LEASE, headers=headers)


async def flaky_server() -> AsyncIterator[Flaky]:
    flaky = Flaky()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky.handle)
    runner, flaky.base = await serve(app)
    yield flaky
    await runner.cleanup()
