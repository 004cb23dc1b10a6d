"""The lease state table, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from admin.forge.states import HOLDING, MACHINE, LeaseEvent, LeaseState
from voltcore.statemachine import IllegalTransition

FINAL = MACHINE.final
next_state = MACHINE.next


def test_every_pair_is_either_a_transition_or_refused() -> None:
    for state, event in itertools.product(LeaseState, LeaseEvent):
        try:
            target = next_state(state, event, LeaseState.EXPIRED)
        except IllegalTransition:
            continue
        assert state not in FINAL, "final states never move"
        assert target is not state


def test_happy_path_and_endings() -> None:
    s = next_state(LeaseState.PENDING, LeaseEvent.START)
    s = next_state(s, LeaseEvent.READY)
    assert s is LeaseState.ACTIVE
    s = next_state(s, LeaseEvent.EXPIRE)
    assert s is LeaseState.TERMINATING
    assert next_state(s, LeaseEvent.CLEANED, LeaseState.EXPIRED) is LeaseState.EXPIRED
    assert next_state(s, LeaseEvent.CLEANED, LeaseState.TERMINATED) is LeaseState.TERMINATED
    with pytest.raises(IllegalTransition):
        next_state(LeaseState.TERMINATED, LeaseEvent.TERMINATE)
    assert HOLDING.isdisjoint(FINAL) and set(LeaseState) == HOLDING | FINAL
