"""An HTTP client for tests that talks to a live service over TCP and checks every response
against openapi.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from tests.support.openapi import Spec


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def events(self) -> list[Any]:
        """The chunks of an event stream, without the closing [DONE]."""
        events = [e for e in self.body.decode().split("\n\n") if e.strip()]
        assert events[-1] == "data: [DONE]"
        return [orjson.loads(e.removeprefix("data: ")) for e in events[:-1]]

    @property
    def error(self) -> dict[str, Any]:
        return self.json()["error"]  # type: ignore[no-any-return]

    def expect_error(
        self, status: int, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]:
        """Assert an OpenAI-style error with this status (and code and param, when given)."""
        assert self.status == status, (self.status, self.body[:300])
        error = self.error
        assert set(error) == {"message", "type", "param", "code"}, error
        assert error["message"], error
        if code is not None:
            assert error["code"] == code, error
        if param is not None:
            assert error["param"] == param, error
        assert b"Traceback" not in self.body
        # Every error names the replica that refused it.
        assert self.json()["volt"]["pod"], self.body[:300]
        return error


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, spec: Spec) -> None:
        self.session, self.base, self.spec = session, base, spec

    async def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        check_spec: bool = True,
    ) -> Reply:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        if json is not None:
            data = orjson.dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.base + path, data=data, params=params, headers=hdrs
        ) as resp:
            reply = Reply(resp.status, resp.headers, await resp.read())
        assert reply.headers.get("x-request-id", "").startswith("req_"), (method, path)
        if check_spec:
            self.spec.validate_response(
                method,
                path.split("?")[0],
                reply.status,
                reply.headers.get("Content-Type", ""),
                reply.body,
            )
        return reply

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.request("POST", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.request("DELETE", path, **kw)
