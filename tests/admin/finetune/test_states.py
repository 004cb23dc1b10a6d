"""The job state table, exhaustively: every (state, event) pair is either in the table or
refused, final states have no way out, and every state is reachable from the start."""

from __future__ import annotations

import itertools

import pytest

from admin.finetune.states import (
    FINAL,
    OPEN,
    TRANSITIONS,
    IllegalTransition,
    JobEvent,
    JobState,
    next_state,
)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(JobState, JobEvent)))
def test_every_pair_is_decided(state: JobState, event: JobEvent) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, event)


def test_final_states_are_final() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] in FINAL]
    assert set(JobState) == FINAL | OPEN and not FINAL & OPEN


def test_every_open_state_can_be_cancelled() -> None:
    assert all(next_state(s, JobEvent.CANCEL) is JobState.CANCELLED for s in OPEN)


def test_a_lost_worker_leaves_the_job_retryable() -> None:
    assert next_state(JobState.RUNNING, JobEvent.REQUEUE) is JobState.QUEUED
    assert next_state(JobState.QUEUED, JobEvent.CLAIM) is JobState.RUNNING


def test_every_state_is_reachable() -> None:
    seen, frontier = {JobState.VALIDATING_FILES}, [JobState.VALIDATING_FILES]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(JobState)
