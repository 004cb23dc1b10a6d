"""Typed iterators over a server-sent event stream (`data: {json}` events, then
`data: [DONE]`). One decoder reads the lines; `Stream` and `AsyncStream` only feed it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import httpx
import orjson

from volt._exceptions import APIError, origin_of
from volt.types.common import ErrorObject

T = TypeVar("T")


class _Done:
    pass


DONE = _Done()


def decode(line: str, item: type[T], request: httpx.Request) -> T | _Done | None:
    """One line of the stream: an event, the end, or None for anything else (blank lines,
    comments, other fields). An error event mid-stream raises its `APIError`."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return DONE
    payload = orjson.loads(data)
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = ErrorObject.model_validate(payload["error"])
        raise APIError(error.message, request, error=error, volt=origin_of(payload))
    if isinstance(payload, dict) and payload.get("type") == "error":  # a Responses stream's
        error = ErrorObject(
            message=payload.get("message") or "",
            type="server_error",
            param=payload.get("param"),
            code=payload.get("code"),
        )
        raise APIError(error.message, request, error=error)
    return cast(T, cast(Any, item).model_validate(payload))


class _Base(Generic[T]):
    def __init__(self, response: httpx.Response, item: type[T]) -> None:
        self.response = response
        self._item = item

    @property
    def request_id(self) -> str | None:
        request_id: str | None = self.response.headers.get("x-request-id")
        return request_id


class Stream(_Base[T]):
    """Usage: `for chunk in client.chat.completions.stream(...): print(chunk.choices)`;
    the stream closes when exhausted, on `close()` or at the end of a `with` block."""

    def __iter__(self) -> Iterator[T]:
        try:
            for line in self.response.iter_lines():
                event = decode(line, self._item, self.response.request)
                if isinstance(event, _Done):
                    return
                if event is not None:
                    yield event
        finally:
            self.close()

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_Base[T]):
    """Usage: `async for chunk in await client.chat.completions.stream(...): ...`."""

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            async for line in self.response.aiter_lines():
                event = decode(line, self._item, self.response.request)
                if isinstance(event, _Done):
                    return
                if event is not None:
                    yield event
        finally:
            await self.close()

    async def close(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
