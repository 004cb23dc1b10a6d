"""Cursor pagination (`limit`, `after`, `has_more`), shaped like OpenAI's list objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from pydantic import Field

from voltcore.errors import InvalidRequest
from voltcore.validation import RequestModel


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
