"""The fine-tuning job state machine as a table: `(state, event) -> state`. Pure; `store.apply`
persists a transition with the row version in one transaction.

    validating_files -> queued -> running -> succeeded
           |              |         |  \\-> failed (training error, or out of attempts)
           \\-> failed     |         \\-> queued (its worker died: retried)
    any of the first three -> cancelled
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobEvent(StrEnum):
    VALIDATED = "validated"  # the files fit the base model
    REJECT = "reject"  # the files cannot be trained on
    CLAIM = "claim"  # a worker took the job
    SUCCEED = "succeed"  # the adapter is saved and the model registered
    FAIL = "fail"  # training cannot succeed
    REQUEUE = "requeue"  # the worker died or stopped: another one retries
    CANCEL = "cancel"  # the tenant cancelled


S, E = JobState, JobEvent

TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (S.VALIDATING_FILES, E.VALIDATED): S.QUEUED,
    (S.VALIDATING_FILES, E.REJECT): S.FAILED,
    (S.QUEUED, E.CLAIM): S.RUNNING,
    (S.RUNNING, E.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.RUNNING, E.REQUEUE): S.QUEUED,
    (S.VALIDATING_FILES, E.CANCEL): S.CANCELLED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.RUNNING, E.CANCEL): S.CANCELLED,
}
FINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})
OPEN = frozenset(JobState) - FINAL


class IllegalTransition(Exception):
    pass


def next_state(state: JobState, event: JobEvent) -> JobState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed in {state.value}") from None
