"""Typed rows at a store's boundary: `columns` builds a store's frozen dataclass from a Record
(`stateful` one with a state and a target), and `StateTable` holds what every table of
org-owned rows that move through a state machine (leases, racks, fine-tuning jobs) does the
same way: an org's
row by id (404 otherwise), the open rows a reconciler works on, and `apply`, the one place an
event becomes a version-guarded UPDATE (`voltcore.versioned.update`) that also records the
row's target.

Usage:

    LEASES = StateTable("forge_leases", MACHINE, Lease.from_record, noun="lease")
    lease = await LEASES.get(pool, org_id, lease_id)
    lease = await LEASES.apply(pool, lease, LeaseEvent.EXPIRE, target=LeaseState.EXPIRED)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

import asyncpg

from voltcore import versioned
from voltcore.db import Conn
from voltcore.errors import NotFound
from voltcore.statemachine import StateMachine
from voltcore.versioned import Versioned

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
S = TypeVar("S", bound=StrEnum)
S_co = TypeVar("S_co", bound=StrEnum, covariant=True)
E = TypeVar("E", bound=StrEnum)
R = TypeVar("R", bound="Stateful[Any]")


def columns(cls: type[D], record: asyncpg.Record, **parsed: Any) -> D:
    """`cls` from the Record's columns of the same names as its fields; `parsed` gives the
    fields that need more than the column as it is (a state enum, a decoded value)."""
    names = (f.name for f in dataclasses.fields(cls) if f.name not in parsed)
    return cls(**{name: record[name] for name in names}, **parsed)


def stateful(cls: type[D], record: asyncpg.Record, states: type[S], **parsed: Any) -> D:
    """`columns` for a row of a StateTable: `status` and `target_status` parsed as `states`."""
    target = record["target_status"]
    return columns(
        cls,
        record,
        status=states(record["status"]),
        target_status=None if target is None else states(target),
        **parsed,
    )


class Stateful(Versioned, Protocol[S_co]):
    """A typed row that moves through a state machine."""

    @property
    def status(self) -> S_co: ...


@runtime_checkable
class Targeted(Protocol):
    """A row that also records its target (leases, racks): where a TARGET transition ends."""

    @property
    def target_status(self) -> StrEnum | None: ...


@dataclass(frozen=True)
class StateTable(Generic[R, S, E]):
    table: str  # the caller's own SQL name, never user input
    machine: StateMachine[S, E]
    parse: Callable[[asyncpg.Record], R]
    noun: str  # names the row in a 404 ("No such lease") and in its parameter ("lease_id")
    # What a 404 calls the row, where that is more than the noun ("fine-tuning job").
    label: str | None = None
    # A column stamped with the time of the transition into a final state ("finished_at").
    stamp_final: str | None = None

    @property
    def code(self) -> str:
        """The code of a VersionConflict: the row changed meanwhile."""
        return f"{self.noun}_changed"

    async def get(self, db: asyncpg.Pool | Conn, org_id: str, row_id: str) -> R:
        """The org's row, or a 404 that reads the same for another org's row as for none."""
        row = await db.fetchrow(
            f"SELECT * FROM {self.table} WHERE org_id = $1 AND id = $2", org_id, row_id
        )
        if row is None:
            label = self.label or self.noun
            raise NotFound(f"No such {label}: '{row_id}'.", param=f"{self.noun}_id")
        return self.parse(row)

    async def open(self, db: asyncpg.Pool | Conn) -> list[R]:
        """Every row that is not final, oldest first: a reconciler's work list."""
        rows = await db.fetch(
            f"SELECT * FROM {self.table} WHERE status = ANY($1::text[]) ORDER BY created_at",
            [s.value for s in self.machine.open],
        )
        return [self.parse(r) for r in rows]

    async def apply(
        self, db: asyncpg.Pool | Conn, row: R, event: E, *, target: S | None = None, **changes: Any
    ) -> R:
        """Persist one transition (and any field changes) if nobody moved the row meanwhile;
        raises VersionConflict otherwise, and the caller looks again. `target` records where
        a later transition that the table says TARGET ends (why a lease ends, what a failed
        rack's retry resumes); such a transition ends in the row's recorded target."""
        recorded = target
        if recorded is None and isinstance(row, Targeted):
            recorded = cast("S | None", row.target_status)
        state = self.machine.next(cast(S, row.status), event, target=recorded)
        if target is not None:
            changes["target_status"] = target.value
        stamp = self.stamp_final is not None and state in self.machine.final
        updated = await versioned.update(
            db,
            self.table,
            row,
            changes,
            state=state.value,
            also=[f"{self.stamp_final} = now()"] if stamp else [],
            code=self.code,
        )
        return self.parse(updated)

    async def record(self, db: asyncpg.Pool | Conn, row: R, **changes: Any) -> R:
        """Update observations (last_error, conditions, nodes) without a state change, guarded
        by the version too, so that a stale pass cannot overwrite a newer state's."""
        return self.parse(await versioned.update(db, self.table, row, changes, code=self.code))
