"""One small state-machine type for every resource that has a lifecycle (leases, racks,
fine-tuning jobs), after Ironic's provision states: a declarative table of
`(state, event) -> state`, the stable and in-progress states declared beside it, and a
target kept as data on the row (Ironic's `target_provision_state`) where a transition's end
depends on why it began. Pure: `voltcore.versioned.update` persists a transition.

Usage:

    MACHINE = StateMachine(
        {(S.PENDING, E.START): S.RUNNING, (S.RUNNING, E.DONE): TARGET},
        stable={S.PENDING, S.SUCCEEDED, S.FAILED},
        in_progress={S.RUNNING},
        final={S.SUCCEEDED, S.FAILED},
    )
    MACHINE.next(S.RUNNING, E.DONE, target=row.target_status)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final, Generic, TypeVar

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class _Target(StrEnum):
    TARGET = "<target>"


# A transition whose end is the row's recorded target rather than a fixed state.
TARGET: Final = _Target.TARGET


class IllegalTransition(Exception):
    """An event that the table does not allow in the row's state: a bug in the caller or a
    row that moved meanwhile, never something a client can cause by its input alone."""


class StateMachine(Generic[S, E]):
    def __init__(
        self,
        transitions: Mapping[tuple[S, E], S | _Target],
        *,
        stable: Iterable[S],
        in_progress: Iterable[S],
        final: Iterable[S],
        targets: Iterable[S] = (),
    ) -> None:
        self.transitions = dict(transitions)
        self.stable: frozenset[S] = frozenset(stable)
        self.in_progress: frozenset[S] = frozenset(in_progress)
        self.final: frozenset[S] = frozenset(final)
        # The states a TARGET transition may end in.
        self.targets: frozenset[S] = frozenset(targets)
        self.states: frozenset[S] = self.stable | self.in_progress
        # Declared, so checked when the table is built rather than found out in production.
        if self.stable & self.in_progress:
            both = self.stable & self.in_progress
            raise ValueError(f"states both stable and in progress: {both}")
        if not self.final <= self.stable:
            raise ValueError(f"final states must be stable: {self.final - self.stable}")
        used = {s for s, _ in self.transitions} | {
            t for t in self.transitions.values() if t is not TARGET
        }
        if not used <= self.states:
            raise ValueError(f"undeclared states in the table: {used - self.states}")
        if any(s in self.final for s, _ in self.transitions):
            raise ValueError("a final state has a transition out of it")
        if TARGET in self.transitions.values() and not self.targets:
            raise ValueError("a TARGET transition needs the states it may end in")

    @property
    def open(self) -> frozenset[S]:
        """Every state that is not final."""
        return self.states - self.final

    def allows(self, state: S, event: E) -> bool:
        return (state, event) in self.transitions

    def next(self, state: S, event: E, target: S | None = None) -> S:
        """The state after `event`; `target` is the row's recorded target, used where the table
        says TARGET. Raises IllegalTransition for an event the table does not allow."""
        try:
            after = self.transitions[(state, event)]
        except KeyError:
            raise IllegalTransition(f"{event.value} is not allowed in {state.value}") from None
        if after is not TARGET:
            return after
        if target is None or target not in self.targets:
            raise IllegalTransition(
                f"{event.value} in {state.value} needs a target among "
                f"{sorted(t.value for t in self.targets)}, not {target!r}"
            )
        return target
