"""Pure device-flow policy: user codes, scopes and what a token poll gets (RFC 8628).

No I/O here, so every rule is tested exhaustively without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

# RFC 8628 §6.1: consonants only (no vowels, so no words; no look-alikes such as 0/O, 1/I).
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LEN = 8
SCOPES = ("read", "write")
# RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for this and all later polls.
SLOW_DOWN_STEP_S = 5


def new_user_code() -> str:
    """`WDJB-MJHT`: 20^8 (~34 bits); guessing is held off by the verification rate limit."""
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LEN))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(text: str) -> str | None:
    """What the user typed, as stored: case, dashes and spaces do not matter (RFC 8628 §6.1).
    None when it cannot be a user code at all."""
    raw = "".join(ch for ch in text.upper() if ch not in "- \t")
    if len(raw) != USER_CODE_LEN or any(ch not in USER_CODE_ALPHABET for ch in raw):
        return None
    return raw


def code_hash(value: str) -> bytes:
    """Device codes, user codes and tokens are stored only as this digest."""
    return hashlib.sha256(value.encode()).digest()


def parse_scope(text: str | None, *, default: tuple[str, ...] = SCOPES) -> tuple[str, ...] | None:
    """Space-separated scopes (RFC 6749 §3.3), sorted and deduplicated; None if any is unknown
    or none is given."""
    if text is None:
        return tuple(sorted(default))
    names = set(text.split())
    if not names or not names <= set(SCOPES):
        return None
    return tuple(sorted(names))


Status = Literal["pending", "approved", "denied", "consumed"]
Outcome = Literal[
    "issue", "authorization_pending", "slow_down", "access_denied", "expired_token", "used"
]


@dataclass(frozen=True)
class Poll:
    """A token poll's answer, and the interval that holds from now on."""

    outcome: Outcome
    interval_s: int


def decide_poll(
    *,
    status: Status,
    expires_at: dt.datetime,
    last_polled_at: dt.datetime | None,
    interval_s: int,
    now: dt.datetime,
) -> Poll:
    """RFC 8628 §3.5. A code is good for one set of tokens ("used" after), nothing after it
    expires, and a client polling faster than the interval while the user decides is told to
    slow down, with the interval raised for good."""
    if status == "consumed":
        return Poll("used", interval_s)
    if now >= expires_at:
        return Poll("expired_token", interval_s)
    if status == "denied":
        return Poll("access_denied", interval_s)
    if status == "approved":
        return Poll("issue", interval_s)
    if last_polled_at is not None and now - last_polled_at < dt.timedelta(seconds=interval_s):
        return Poll("slow_down", interval_s + SLOW_DOWN_STEP_S)
    return Poll("authorization_pending", interval_s)


def verification_locked(
    failures: int,
    since: dt.datetime | None,
    now: dt.datetime,
    *,
    max_failures: int,
    window: dt.timedelta,
) -> bool:
    """RFC 8628 §5.1: a session that entered too many wrong user codes in the window may not
    try again until the window has passed (34 bits of code then take millennia to guess)."""
    return since is not None and now - since < window and failures >= max_failures
