"""Pagination: cursor lists (`limit`, `after`, `has_more`) and usage (`page`, `next_page`).
A page knows the call that made it and the parameters of the next one, so iterating it fetches
the next pages through the same client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from typing import Any, Generic, TypeVar

from volt._call import Call
from volt.types.common import Page

T = TypeVar("T")


def next_call(call: Call[Page[T]], page: Page[T]) -> Call[Page[T]] | None:
    params = page.next_params()
    return None if params is None else call.with_params(**params)


class _Page(Generic[T]):
    def __init__(self, call: Call[Page[T]], page: Page[T]) -> None:
        self._call = call
        self.page = page

    @property
    def data(self) -> Sequence[T]:
        return self.page.data

    @property
    def has_more(self) -> bool:
        return self.page.has_more

    @property
    def last_id(self) -> str | None:
        """A cursor list's last id (None for usage pages)."""
        last: str | None = getattr(self.page, "last_id", None)
        return last


class SyncPage(_Page[T]):
    """One page (`.data`, `.has_more`); iterating it yields every item of every page.

    Usage: `for lease in client.forge.leases.list(limit=50): ...`.
    """

    def __init__(
        self,
        fetch: Callable[[Call[Page[T]]], Page[T]],
        call: Call[Page[T]],
        page: Page[T],
    ) -> None:
        super().__init__(call, page)
        self._fetch = fetch

    def next_page(self) -> SyncPage[T] | None:
        call = next_call(self._call, self.page)
        return None if call is None else SyncPage(self._fetch, call, self._fetch(call))

    def __iter__(self) -> Iterator[T]:
        page: SyncPage[T] | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()


class AsyncPage(_Page[T]):
    """One page of an async list; `async for` over it yields every item of every page.

    Usage: `page = await client.files.list(limit=10); nxt = await page.next_page()`.
    """

    def __init__(
        self,
        fetch: Callable[[Call[Page[T]]], Awaitable[Page[T]]],
        call: Call[Page[T]],
        page: Page[T],
    ) -> None:
        super().__init__(call, page)
        self._fetch = fetch

    async def next_page(self) -> AsyncPage[T] | None:
        call = next_call(self._call, self.page)
        return None if call is None else AsyncPage(self._fetch, call, await self._fetch(call))

    async def __aiter__(self) -> AsyncIterator[T]:
        page: AsyncPage[T] | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.next_page()


class AsyncPaginator(Generic[T]):
    """What an async list method returns: `await` it for the first `AsyncPage`, or
    `async for` over it for every item. Usage: `async for key in client.api_keys.list(): ...`."""

    def __init__(
        self,
        fetch: Callable[[Call[Page[T]]], Awaitable[Page[T]]],
        call: Call[Page[T]],
    ) -> None:
        self._fetch, self._call = fetch, call

    async def _first(self) -> AsyncPage[T]:
        return AsyncPage(self._fetch, self._call, await self._fetch(self._call))

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for item in await self._first():
            yield item
