"""Rows that move through a state machine (leases, racks, fine-tuning jobs): each change is one
UPDATE guarded by the row's `version` (optimistic concurrency), so two actors can never both
move the same row; the loser gets VersionConflict, looks again and decides anew
(`change` does that for a route: read, check, apply, retry)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg

from voltcore.db import Conn
from voltcore.errors import Conflict

R = TypeVar("R")
# How often `change` looks again before it gives up: a reconciler moves a row a few times a
# second at most, so five conflicts in a row mean something is wrong.
ATTEMPTS = 5


class Versioned(Protocol):
    """A store's typed row: what `update` needs to guard a write."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


class VersionConflict(Conflict):
    """The row moved between the caller's read and its write. Only this is retried; other
    409s (a state that does not allow the change) are the client's answer."""


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
    row: Versioned,
    changes: dict[str, Any],
    *,
    state: str | None = None,
    also: Sequence[str] = (),
    code: str,
) -> asyncpg.Record:
    """Write `changes` (and `state`, which bumps the version) if the row is still the version
    the caller read; `also` holds extra SQL assignments such as `finished_at = now()`. `row`
    is a store's typed row; the answer is the updated Record, for the store to parse again."""
    fixed = ["updated_at = now()", *also]
    args: list[Any] = [row.id, row.version]
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
        raise VersionConflict(f"{row.id} changed concurrently.", code=code)
    return updated


async def change(
    read: Callable[[], Awaitable[R]],
    apply: Callable[[R], Awaitable[R | None]],
    *,
    code: str,
    param: str | None = None,
    attempts: int = ATTEMPTS,
) -> R:
    """Read a row, let `apply` check it and write the change (None: nothing to change, the row
    as read is the answer; a Conflict it raises is the client's answer), and start over if the
    row moved meanwhile. Past `attempts` conflicts the answer is a 409 with `code`, never a
    stale row that claims the change was made.

    Usage: `row = await versioned.change(lambda: store.get(...), apply, code="lease_changed")`.
    """
    for _ in range(attempts):
        row = await read()
        try:
            updated = await apply(row)
        except VersionConflict:
            continue
        return row if updated is None else updated
    raise Conflict(
        "The resource is changing too fast to apply this request; retry.", param=param, code=code
    )
