"""Approving a device from a console session (RFC 8628 §3.3): the user code a signed-in admin
typed, looked up; what may be granted (at most the scopes the device asked for and the admin's
own); the decision, recorded. Wrong codes are counted per session (past the limit, it is refused
for a while) and against every pending code (past its budget, it cannot be approved at all),
atomically (§5.1): a user code is short and must not be guessable from many sessions at once.
The console renders the page around these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import asyncpg

from admin.signin.device import store
from admin.signin.device.config import OAuthSettings
from admin.signin.device.policy import SCOPES, normalize_user_code, verification_locked
from admin.signin.session.store import (
    Session,
    record_code_failure,
    refund_code_attempt,
    reserve_code_attempt,
)
from voltcore.errors import InvalidRequest

Action = Literal["approve", "deny"]


@dataclass(frozen=True, slots=True)
class Pending:
    """A device's request the typed code names: `user_code` as stored (no dash)."""

    user_code: str
    client_id: str
    scopes: tuple[str, ...]

    @property
    def shown(self) -> str:
        """As the CLI shows it: `WDJB-MJHT`."""
        return f"{self.user_code[:4]}-{self.user_code[4:]}"


def locked(settings: OAuthSettings, session: Session) -> bool:
    """This session entered too many wrong codes lately and must wait."""
    return verification_locked(
        session.failed_codes,
        session.failed_since,
        dt.datetime.now(dt.UTC),
        max_failures=settings.verify_max_failures,
        window=dt.timedelta(seconds=settings.verify_window_s),
    )


async def lookup(
    pool: asyncpg.Pool, settings: OAuthSettings, session: Session, typed: str
) -> Pending | Literal["unknown", "locked"]:
    """The pending request `typed` names; "unknown", with one more wrong code counted against
    the session and every pending code, when it names none (not a code, unknown, expired,
    decided, or out of guesses); "locked" when the session may not try now. The session's
    attempt is counted before the lookup and handed back when it names a code, so parallel
    requests cannot all slip under the limit."""
    if not await reserve_code_attempt(
        pool, session.id, settings.verify_window_s, settings.verify_max_failures
    ):
        return "locked"
    user_code = normalize_user_code(typed)
    found = await store.pending_code(
        pool, user_code, max_failures=settings.verify_code_max_failures
    )
    if user_code is None or found is None:
        return "unknown"
    await refund_code_attempt(pool, session.id)
    return Pending(user_code, found.client_id, found.scopes)


def offered(pending: Pending, session: Session) -> list[str]:
    """The scopes the page offers: asked for by the device and held by the admin."""
    return [s for s in SCOPES if s in pending.scopes and s in session.principal.scopes]


def chosen_scopes(values: list[str]) -> set[str] | None:
    """The scopes ticked on the form (space-separated values allowed); None when none."""
    chosen = {s for v in values for s in v.split()}
    if not chosen <= set(SCOPES):
        raise InvalidRequest(
            f"Unknown scope in {sorted(chosen)}; scopes are 'read' and 'write'.",
            param="scope",
            code="invalid_value",
        )
    return chosen or None


def granted_scopes(
    pending: Pending, chosen: set[str] | None, session: Session, action: Action
) -> set[str]:
    """Never more than the device asked for, nor more than the approving admin holds."""
    requested = set(pending.scopes)
    if chosen is not None and not chosen <= requested:
        raise InvalidRequest(
            f"Only the scopes the device asked for may be granted: {sorted(requested)}.",
            param="scope",
            code="invalid_value",
        )
    granted = (chosen or requested) & session.principal.scopes
    if action == "approve" and not granted:
        raise InvalidRequest("Grant at least one scope.", param="scope", code="invalid_value")
    return granted


async def decide(
    pool: asyncpg.Pool,
    settings: OAuthSettings,
    session: Session,
    pending: Pending,
    action: Action,
    granted: set[str],
) -> bool:
    """Approve (for the session's org) or deny; False, with one more wrong code counted, when
    the request was decided or expired between the lookup and now."""
    decided = await store.decide(
        pool,
        pending.user_code,
        decision="approved" if action == "approve" else "denied",
        org_id=session.org_id,
        user_id=session.user_id,
        granted=sorted(granted),
    )
    if not decided:
        await record_code_failure(pool, session.id, settings.verify_window_s)
    return decided
