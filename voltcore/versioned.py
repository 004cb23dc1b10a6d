"""Rows that move through a state machine (leases, racks, fine-tuning jobs): each change is one
UPDATE guarded by the row's `version` (optimistic concurrency), so two actors can never both
move the same row; the loser gets Conflict, looks again and decides anew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from voltcore.db import Conn
from voltcore.errors import Conflict


def last_error(code: str, message: str) -> dict[str, Any]:
    """A resource's `last_error` as the API shows it: a stable code, a message and when."""
    return {"code": code, "message": message, "time": int(dt.datetime.now(dt.UTC).timestamp())}


def assignments(changes: dict[str, Any], first: int) -> tuple[list[str], list[Any]]:
    """`col = $n` for each change, numbering placeholders from `first`. Column names are the
    caller's own keyword arguments, never user input."""
    return [f"{c} = ${first + i}" for i, c in enumerate(changes)], list(changes.values())


async def update(
    db: asyncpg.Pool | Conn,
    table: str,
    row: asyncpg.Record,
    changes: dict[str, Any],
    *,
    state: str | None = None,
    also: Sequence[str] = (),
    code: str,
) -> asyncpg.Record:
    """Write `changes` (and `state`, which bumps the version) if the row is still the version
    the caller read; `also` holds extra SQL assignments such as `finished_at = now()`."""
    fixed = ["updated_at = now()", *also]
    args: list[Any] = [row["id"], row["version"]]
    if state is not None:
        fixed += [f"status = ${len(args) + 1}", "version = version + 1"]
        args.append(state)
    sets, values = assignments(changes, len(args) + 1)
    updated = await db.fetchrow(
        f"UPDATE {table} SET {', '.join([*fixed, *sets])} "
        "WHERE id = $1 AND version = $2 RETURNING *",
        *args,
        *values,
    )
    if updated is None:
        raise Conflict(f"{row['id']} changed concurrently.", code=code)
    return updated
