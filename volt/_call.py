"""Requests as data, and the one place where sync and async diverge.

Each resource method is written once and only *describes* its request (a `Call`); the
decorators below hand that description to the client the resource belongs to. A `Volt` client
executes it at once, an `AsyncVolt` client returns a coroutine, so a method declared as
`def create(...) -> Call[Lease]` types as `Lease` on `Volt` and `Awaitable[Lease]` on `AsyncVolt`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Self,
    TypeVar,
    overload,
)
from urllib.parse import quote

from volt.types.common import Page

if TYPE_CHECKING:
    from volt._pagination import AsyncPaginator, SyncPage
    from volt._streaming import AsyncStream, Stream
    from volt._waiting import Wait

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# Where the caller's own org id goes in a path; filled from `GET /v1/me` when not given.
ORG = "{org_id}"


class Mode:
    """How a client executes calls: `Sync` or `Async` (type-level only)."""


class Sync(Mode):
    pass


class Async(Mode):
    pass


M = TypeVar("M", bound=Mode)


@dataclasses.dataclass(frozen=True)
class Call(Generic[T_co]):
    """One API request and how to read its answer: `cast` is a pydantic model (JSON) or `str`
    (text); for streams, the type of each event."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    cast: type[T_co]
    params: Mapping[str, Any] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    data: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    # OAuth endpoints authenticate by their body, never with the caller's token.
    authenticated: bool = True

    def with_params(self, **params: Any) -> Call[T_co]:
        return dataclasses.replace(self, params={**(self.params or {}), **params})


def path_id(value: str, *, slashes: bool = False) -> str:
    """`value` quoted for one path segment (model ids may keep `/` and `:`)."""
    return quote(value, safe=":/" if slashes else "")


def org_path(org_id: str | None, rest: str = "") -> str:
    return f"/v1/orgs/{path_id(org_id) if org_id else ORG}{rest}"


def body(**fields: Any) -> dict[str, Any]:
    """The fields that were given: None means "leave it to the server's default"."""
    return {k: v for k, v in fields.items() if v is not None}


class Executor(Generic[M]):
    """What a resource needs from its client (implemented by `Volt` and `AsyncVolt`)."""

    def _request(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def _stream(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def _paginate(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def _wait(self, spec: Wait[Any]) -> Any:
        raise NotImplementedError


class Resource(Generic[M]):
    """A group of endpoints (`client.forge.leases`) bound to one client."""

    def __init__(self, client: Executor[M]) -> None:
        self._client = client


Method = Callable[Concatenate[Any, P], Call[T]]


class _Decorator:
    runner = ""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def _bind(self, obj: Resource[Any]) -> Any:
        fn, run = self.fn, getattr(obj._client, self.runner)

        @functools.wraps(fn)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(fn(obj, *args, **kwargs))

        return bound


class endpoint(_Decorator, Generic[P, T]):
    """A plain request: the parsed response (sync) or a coroutine of it (async)."""

    runner = "_request"

    def __init__(self, fn: Method[P, T]) -> None:
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: Any) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: Any) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: Any) -> Any:
        return self if obj is None else self._bind(obj)


class streaming(_Decorator, Generic[P, T]):
    """A server-sent event stream of `T`: `Stream[T]` (sync) or a coroutine of
    `AsyncStream[T]` (async)."""

    runner = "_stream"

    def __init__(self, fn: Method[P, T]) -> None:
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: Any) -> Callable[P, Stream[T]]: ...
    @overload
    def __get__(
        self, obj: Resource[Async], owner: Any
    ) -> Callable[P, Coroutine[Any, Any, AsyncStream[T]]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: Any) -> Any:
        return self if obj is None else self._bind(obj)


class paginated(_Decorator, Generic[P, T]):
    """A paginated list of `T` (any `Page`): `SyncPage[T]` (iterating it walks every page), or an
    `AsyncPaginator[T]` (await it for the first page, `async for` walks every item)."""

    runner = "_paginate"

    def __init__(self, fn: Method[P, Page[T]]) -> None:
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: Any) -> Callable[P, SyncPage[T]]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: Any) -> Callable[P, AsyncPaginator[T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: Any) -> Any:
        return self if obj is None else self._bind(obj)


class waiter(_Decorator, Generic[P, T]):
    """Polling until a status (the method describes a `Wait`): the resource (sync) or a
    coroutine of it (async); the loop itself is `volt._waiting.wait`, driven by the client."""

    runner = "_wait"

    def __init__(self, fn: Callable[Concatenate[Any, P], Wait[T]]) -> None:
        super().__init__(fn)

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: Any) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: Any) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: Any) -> Any:
        return self if obj is None else self._bind(obj)
