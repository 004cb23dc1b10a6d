"""The rack state machine as a table, after Ironic's provision states: `(state, event) -> state`.
Pure; `store.apply` persists a transition with the row version in one transaction.

requested -> allocating (the reconciler picked the rack up) -> provisioning (the rack's own
Talos secrets are sealed; BMCs are being driven) -> ready (every node powered on with its boot
device set, verified by reading the BMC back). A BMC failure moves the rack to `failed` with
`last_error`; the reconciler retries it with backoff, resuming what failed (provisioning or
releasing). A release from any state goes through `releasing` (BMC accounts deleted, nodes
powered off) to `released`, which frees the physical rack.
"""

from __future__ import annotations

from enum import StrEnum


class RackState(StrEnum):
    REQUESTED = "requested"
    ALLOCATING = "allocating"
    PROVISIONING = "provisioning"
    READY = "ready"
    RELEASING = "releasing"
    RELEASED = "released"
    FAILED = "failed"


class RackEvent(StrEnum):
    START = "start"  # the reconciler picked the rack up
    ALLOCATED = "allocated"  # secrets bundle sealed, nodes recorded
    READY = "ready"  # every node verified on, booting the installer
    FAIL = "fail"  # a BMC refused or could not be reached
    RETRY = "retry"  # backoff elapsed: resume what failed
    RELEASE = "release"  # the tenant gave the rack back
    RELEASED = "released"  # accounts deleted and nodes off: the rack is free


S, E = RackState, RackEvent

TRANSITIONS: dict[tuple[RackState, RackEvent], RackState] = {
    (S.REQUESTED, E.START): S.ALLOCATING,
    (S.ALLOCATING, E.ALLOCATED): S.PROVISIONING,
    (S.PROVISIONING, E.READY): S.READY,
    (S.PROVISIONING, E.FAIL): S.FAILED,
    (S.RELEASING, E.FAIL): S.FAILED,
    (S.RELEASING, E.RELEASED): S.RELEASED,
    **{
        (s, E.RELEASE): S.RELEASING
        for s in (S.REQUESTED, S.ALLOCATING, S.PROVISIONING, S.READY, S.FAILED)
    },
}
# Where a retry resumes: the step that failed.
RESUMABLE = frozenset({S.PROVISIONING, S.RELEASING})
# States in which the tenant holds a cluster identity (Talos configs can be downloaded) and
# BMC accounts may be minted.
ALLOCATED = frozenset({S.PROVISIONING, S.READY, S.FAILED})
FINAL = frozenset({S.RELEASED})


class IllegalTransition(Exception):
    pass


def next_state(state: RackState, event: RackEvent, failed_in: str | None = None) -> RackState:
    if state is S.FAILED and event is E.RETRY:
        return RackState(failed_in) if failed_in in RESUMABLE else S.PROVISIONING
    if state is S.FAILED and event is E.RELEASE and failed_in == S.RELEASING:
        return S.RELEASING
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed in {state.value}") from None


def retry_delay(attempts: int, base_s: float, cap_s: float) -> float:
    """Seconds before retry number `attempts` (1-based): doubling from `base_s`, capped, so a
    BMC that is down for long is not hammered."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))
