"""The fine-tuning job state machine as a table: `(state, event) -> state`. Pure; `store.JOBS.apply`
persists a transition with the row version in one transaction.

    validating_files -> queued -> running -> succeeded
           |              |         |  \\-> failed (training error, or out of attempts)
           \\-> failed     |         \\-> queued (its worker died: retried)
    any of the first three -> cancelled
"""

from __future__ import annotations

from enum import StrEnum

from voltcore.statemachine import StateMachine


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

MACHINE: StateMachine[JobState, JobEvent] = StateMachine(
    {
        (S.VALIDATING_FILES, E.VALIDATED): S.QUEUED,
        (S.VALIDATING_FILES, E.REJECT): S.FAILED,
        (S.QUEUED, E.CLAIM): S.RUNNING,
        (S.RUNNING, E.SUCCEED): S.SUCCEEDED,
        (S.RUNNING, E.FAIL): S.FAILED,
        (S.RUNNING, E.REQUEUE): S.QUEUED,
        (S.VALIDATING_FILES, E.CANCEL): S.CANCELLED,
        (S.QUEUED, E.CANCEL): S.CANCELLED,
        (S.RUNNING, E.CANCEL): S.CANCELLED,
    },
    # A queued job waits for a worker as long as it takes; the two others have one at work.
    stable={S.QUEUED, S.SUCCEEDED, S.FAILED, S.CANCELLED},
    in_progress={S.VALIDATING_FILES, S.RUNNING},
    final={S.SUCCEEDED, S.FAILED, S.CANCELLED},
)
