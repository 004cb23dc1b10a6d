"""Resources and the one place where sync and async diverge.

Each resource method is written once and only *describes* its request (a `volt._call.Call`, or
a `volt._waiting.Wait`); the descriptors below hand that description to the client the resource
belongs to. A `Volt` client executes it at once, an `AsyncVolt` client returns a coroutine, so a
method declared as `def create(...) -> Call[Lease]` types as `Lease` on `Volt` and
`Awaitable[Lease]` on `AsyncVolt`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from volt._call import Call
from volt._pagination import AsyncPaginator, SyncPage
from volt._streaming import AsyncStream, Stream
from volt._waiting import Wait
from volt.types.common import Page

P = ParamSpec("P")
T = TypeVar("T")


class Mode:
    """How a client executes calls: `Sync` or `Async` (type-level only)."""


class Sync(Mode):
    pass


class Async(Mode):
    pass


M = TypeVar("M", bound=Mode)


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


class _Value(_Decorator, Generic[P, T]):
    """What `endpoint` and `waiter` give: the value itself (sync) or a coroutine of it (async)."""

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: Any) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: Any) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: Any) -> Any:
        return self if obj is None else self._bind(obj)


class endpoint(_Value[P, T]):
    """A plain request: the parsed response (sync) or a coroutine of it (async)."""

    runner = "_request"

    def __init__(self, fn: Method[P, T]) -> None:
        super().__init__(fn)


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


class waiter(_Value[P, T]):
    """Polling until a status (the method describes a `Wait`): the resource (sync) or a
    coroutine of it (async); the loop itself is `volt._waiting.wait`, driven by the client."""

    runner = "_wait"

    def __init__(self, fn: Callable[Concatenate[Any, P], Wait[T]]) -> None:
        super().__init__(fn)
