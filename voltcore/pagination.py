"""Cursor pagination (`limit`, `after`, `has_more`), shaped like OpenAI's list objects, and
the one list endpoint every org-owned resource uses (`list_response`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import Field

from voltcore.appkeys import POOL, PRINCIPAL
from voltcore.errors import InvalidRequest
from voltcore.http import json_response
from voltcore.validation import RequestModel

R = TypeVar("R")
Render = Callable[[list[R]], Sequence[dict[str, Any]] | Awaitable[Sequence[dict[str, Any]]]]


class ListParams(RequestModel):
    limit: int = Field(20, ge=1, le=100)
    after: str | None = Field(None, min_length=1, max_length=64)


def list_object(items: Sequence[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    """`items` already trimmed to the page; `has_more` from fetching one extra row."""
    return {
        "object": "list",
        "data": list(items),
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


async def keyset_page(
    pool: asyncpg.Pool,
    table: str,
    org_id: str,
    *,
    limit: int,
    after: str | None,
    where: str = "TRUE",
    args: Sequence[Any] = (),
) -> tuple[list[asyncpg.Record], bool]:
    """One page of an org's rows, newest first on (created_at, id); `after` is the last id of
    the previous page. `where` may use placeholders from $5 on, filled from `args`.
    `table` and `where` are the caller's own SQL, never user input."""
    cursor = None
    if after is not None:
        cursor = await pool.fetchrow(
            f"SELECT created_at, id FROM {table} WHERE org_id = $1 AND id = $2", org_id, after
        )
        if cursor is None:
            raise InvalidRequest(
                f"Invalid cursor: '{after}'.", param="after", code="invalid_cursor"
            )
    rows = await pool.fetch(
        f"""SELECT * FROM {table}
            WHERE org_id = $1 AND ({where})
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        org_id,
        cursor["created_at"] if cursor else None,
        cursor["id"] if cursor else None,
        limit + 1,
        *args,
    )
    return list(rows[:limit]), len(rows) > limit


async def list_response(
    request: web.Request,
    table: str,
    params: ListParams,
    *,
    row: Callable[[asyncpg.Record], R],
    render: Render[R],
    where: str = "TRUE",
    args: Sequence[Any] = (),
) -> web.Response:
    """One page of the caller's org's rows as a list object: rows are parsed by `row` (a store's
    typed row) and rendered by `render` (a views function, sync or async, for the whole page so
    that it can join what it needs in one query).

    Usage: `return await list_response(request, "forge_leases", params, row=Lease.from_record,
    render=lambda rows: [views.lease(r) for r in rows])`.
    """
    records, more = await keyset_page(
        request.app[POOL],
        table,
        request[PRINCIPAL].org_id,
        limit=params.limit,
        after=params.after,
        where=where,
        args=args,
    )
    items = render([row(r) for r in records])
    if inspect.isawaitable(items):
        items = await items
    return json_response(list_object(items, has_more=more))
