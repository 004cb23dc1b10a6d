"""The job state table, exhaustively: every (state, event) pair is either in the table or
refused, final states have no way out, and every state is reachable from the start."""

from __future__ import annotations

import itertools

import pytest

from finetune.states import MACHINE, JobEvent, JobState
from voltcore.statemachine import IllegalTransition


@pytest.mark.parametrize(("state", "event"), list(itertools.product(JobState, JobEvent)))
def test_every_pair_is_decided(state: JobState, event: JobEvent) -> None:
    if (state, event) in MACHINE.transitions:
        assert MACHINE.next(state, event) is MACHINE.transitions[(state, event)]
    else:
        with pytest.raises(IllegalTransition):
            MACHINE.next(state, event)


def test_final_states_are_final() -> None:
    assert not [pair for pair in MACHINE.transitions if pair[0] in MACHINE.final]
    assert set(JobState) == MACHINE.final | MACHINE.open and not MACHINE.final & MACHINE.open


def test_every_open_state_can_be_cancelled() -> None:
    assert all(MACHINE.next(s, JobEvent.CANCEL) is JobState.CANCELLED for s in MACHINE.open)


def test_a_lost_worker_leaves_the_job_retryable() -> None:
    assert MACHINE.next(JobState.RUNNING, JobEvent.REQUEUE) is JobState.QUEUED
    assert MACHINE.next(JobState.QUEUED, JobEvent.CLAIM) is JobState.RUNNING


def test_every_state_is_reachable() -> None:
    seen, frontier = {JobState.VALIDATING_FILES}, [JobState.VALIDATING_FILES]
    while frontier:
        state = frontier.pop()
        for (source, _), target in MACHINE.transitions.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(JobState)
