"""The one state-machine type: a table, declared state sets checked when it is built, and a
target kept on the row for transitions whose end depends on why they began."""

from __future__ import annotations

from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voltcore.statemachine import TARGET, IllegalTransition, StateMachine


class S(StrEnum):
    IDLE = "idle"
    WORKING = "working"
    ENDING = "ending"
    DONE = "done"
    FAILED = "failed"


class E(StrEnum):
    START = "start"
    END = "end"
    FAIL = "fail"
    CLEANED = "cleaned"


MACHINE: StateMachine[S, E] = StateMachine(
    {
        (S.IDLE, E.START): S.WORKING,
        (S.WORKING, E.END): S.ENDING,
        (S.WORKING, E.FAIL): S.ENDING,
        (S.ENDING, E.CLEANED): TARGET,
    },
    stable={S.IDLE, S.DONE, S.FAILED},
    in_progress={S.WORKING, S.ENDING},
    final={S.DONE, S.FAILED},
    targets={S.DONE, S.FAILED},
)


@given(st.sampled_from(S), st.sampled_from(E), st.sampled_from([None, *S]))
def test_every_pair_is_the_table_or_refused(state: S, event: E, target: S | None) -> None:
    entry = MACHINE.transitions.get((state, event))
    if entry is None:
        with pytest.raises(IllegalTransition):
            MACHINE.next(state, event, target)
    elif entry is TARGET:
        if target in MACHINE.targets:
            assert MACHINE.next(state, event, target) is target
        else:
            with pytest.raises(IllegalTransition):
                MACHINE.next(state, event, target)
    else:
        assert MACHINE.next(state, event, target) is entry


def test_the_declared_sets() -> None:
    assert MACHINE.open == {S.IDLE, S.WORKING, S.ENDING}
    assert MACHINE.allows(S.IDLE, E.START) and not MACHINE.allows(S.DONE, E.START)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"stable": {S.IDLE, S.WORKING}, "in_progress": {S.WORKING}}, "both stable"),
        ({"final": {S.WORKING}}, "final states must be stable"),
        ({"in_progress": {S.WORKING}}, "undeclared states"),
        ({"targets": set()}, "needs the states"),
    ],
)
def test_a_table_that_contradicts_its_sets_is_refused_when_built(
    kwargs: dict[str, set[S]], why: str
) -> None:
    declared = {
        "stable": {S.IDLE, S.DONE, S.FAILED},
        "in_progress": {S.WORKING, S.ENDING},
        "final": {S.DONE, S.FAILED},
        "targets": {S.DONE, S.FAILED},
    }
    with pytest.raises(ValueError, match=why):
        StateMachine(MACHINE.transitions, **{**declared, **kwargs})


def test_no_transition_leaves_a_final_state() -> None:
    with pytest.raises(ValueError, match="final state has a transition"):
        StateMachine(
            {(S.DONE, E.START): S.WORKING},
            stable={S.DONE},
            in_progress={S.WORKING},
            final={S.DONE},
        )
