"""The rack state machine as a table, after Ironic's provision states: `(state, event) -> state`.
Pure; `store.RACKS.apply` persists a transition with the row version in one transaction.

requested -> allocating (the reconciler picked the rack up) -> provisioning (the rack's own
Talos secrets are sealed; BMCs are being driven) -> ready (every node powered on with its boot
device set, verified by reading the BMC back). A BMC failure moves the rack to `failed` with
`last_error` and records what failed as the rack's target; the reconciler retries it with
backoff, resuming there (provisioning or releasing). A release from any state goes through
`releasing` (BMC accounts deleted, nodes powered off) to `released`, which frees the physical
rack.
"""

from __future__ import annotations

from enum import StrEnum

from voltcore.statemachine import TARGET, StateMachine


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

# Where a retry resumes: the step that failed, recorded as the rack's target when it failed
# (and by a release, which a failure while releasing must not forget).
RESUMABLE = frozenset({S.PROVISIONING, S.RELEASING})
MACHINE: StateMachine[RackState, RackEvent] = StateMachine(
    {
        (S.REQUESTED, E.START): S.ALLOCATING,
        (S.ALLOCATING, E.ALLOCATED): S.PROVISIONING,
        (S.PROVISIONING, E.READY): S.READY,
        (S.PROVISIONING, E.FAIL): S.FAILED,
        (S.RELEASING, E.FAIL): S.FAILED,
        (S.FAILED, E.RETRY): TARGET,
        (S.RELEASING, E.RELEASED): S.RELEASED,
        **{
            (s, E.RELEASE): S.RELEASING
            for s in (S.REQUESTED, S.ALLOCATING, S.PROVISIONING, S.READY, S.FAILED)
        },
    },
    # A failed rack waits out its backoff (or a release) before anything happens to it.
    stable={S.READY, S.RELEASED, S.FAILED},
    in_progress={S.REQUESTED, S.ALLOCATING, S.PROVISIONING, S.RELEASING},
    final={S.RELEASED},
    targets=RESUMABLE,
)
# States in which the tenant holds a cluster identity (Talos configs can be downloaded) and
# BMC accounts may be minted.
ALLOCATED = frozenset({S.PROVISIONING, S.READY, S.FAILED})


def retry_delay(attempts: int, base_s: float, cap_s: float) -> float:
    """Seconds before retry number `attempts` (1-based): doubling from `base_s`, capped, so a
    BMC that is down for long is not hammered."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))
