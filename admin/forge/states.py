"""The lease state machine as a table: `(state, event) -> state`. Pure; `store.LEASES.apply`
persists a transition with the row version in one transaction.

    pending -> provisioning -> active -> terminating -> terminated | expired (its target)
                    \\-> failed

A lease is ended by the tenant (terminate) or by its duration running out (expire); that
transition records where it ends as the lease's target, and the cleanup ends it there.
"""

from __future__ import annotations

from enum import StrEnum

from voltcore.statemachine import TARGET, StateMachine


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

MACHINE: StateMachine[LeaseState, LeaseEvent] = StateMachine(
    {
        (S.PENDING, E.START): S.PROVISIONING,
        (S.PROVISIONING, E.READY): S.ACTIVE,
        (S.PROVISIONING, E.FAIL): S.FAILED,
        (S.PENDING, E.TERMINATE): S.TERMINATING,
        (S.PROVISIONING, E.TERMINATE): S.TERMINATING,
        (S.ACTIVE, E.TERMINATE): S.TERMINATING,
        (S.ACTIVE, E.EXPIRE): S.TERMINATING,
        (S.TERMINATING, E.CLEANED): TARGET,
    },
    # Pending, provisioning and terminating leases have the reconciler at work; an active one
    # runs until the tenant or its duration ends it.
    stable={S.ACTIVE, S.TERMINATED, S.FAILED, S.EXPIRED},
    in_progress={S.PENDING, S.PROVISIONING, S.TERMINATING},
    final={S.TERMINATED, S.FAILED, S.EXPIRED},
    # Why the lease was ended: terminate records terminated, expire records expired.
    targets={S.TERMINATED, S.EXPIRED},
)
# States whose GPUs are held, which placement must count: every one before the lease has ended
# (a terminating lease's namespace, and so its pods, may still be there).
HOLDING = MACHINE.open
