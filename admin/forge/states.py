"""The lease state machine as a table: `(state, event) -> state`. Pure; `store.apply` persists
a transition with the row version in one transaction."""

from __future__ import annotations

from enum import StrEnum


class LeaseState(StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"
    EXPIRED = "expired"


class LeaseEvent(StrEnum):
    START = "start"  # the reconciler picked the lease up
    READY = "ready"  # every object exists and the quota is enforced
    FAIL = "fail"  # provisioning cannot succeed
    TERMINATE = "terminate"  # the tenant deleted the lease
    EXPIRE = "expire"  # the duration ran out
    CLEANED = "cleaned"  # the namespace is gone and the GPUs are free


S, E = LeaseState, LeaseEvent

TRANSITIONS: dict[tuple[LeaseState, LeaseEvent], LeaseState] = {
    (S.PENDING, E.START): S.PROVISIONING,
    (S.PROVISIONING, E.READY): S.ACTIVE,
    (S.PROVISIONING, E.FAIL): S.FAILED,
    (S.PENDING, E.TERMINATE): S.TERMINATING,
    (S.PROVISIONING, E.TERMINATE): S.TERMINATING,
    (S.ACTIVE, E.TERMINATE): S.TERMINATING,
    (S.ACTIVE, E.EXPIRE): S.TERMINATING,
}
# Where a terminating lease ends is decided by why it was ended.
END_STATES = {"terminated": S.TERMINATED, "expired": S.EXPIRED, "failed": S.FAILED}
FINAL = frozenset({S.TERMINATED, S.FAILED, S.EXPIRED})
# States whose GPUs are held: placement must count them.
HOLDING = frozenset({S.PENDING, S.PROVISIONING, S.ACTIVE, S.TERMINATING})


class IllegalTransition(Exception):
    pass


def next_state(state: LeaseState, event: LeaseEvent, end_reason: str | None = None) -> LeaseState:
    if state is S.TERMINATING and event is E.CLEANED:
        return END_STATES[end_reason or "terminated"]
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed in {state.value}") from None
