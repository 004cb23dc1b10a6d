"""The device flow's pure rules: user codes, scopes, the poll decision and the verification
rate limit, exhaustively and with hypothesis."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from admin.signin.device.policy import (
    SLOW_DOWN_STEP_S,
    USER_CODE_ALPHABET,
    decide_poll,
    new_user_code,
    normalize_user_code,
    parse_scope,
    verification_locked,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
EXPIRES = T0 + dt.timedelta(minutes=10)


def test_user_codes_are_rfc_8628_consonants_in_two_groups() -> None:
    codes = {new_user_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == 9 and code[4] == "-"
        assert set(code.replace("-", "")) <= set(USER_CODE_ALPHABET)
        assert not set(code) & set("AEIOU01")


@given(st.text(alphabet=USER_CODE_ALPHABET, min_size=8, max_size=8))
def test_case_dashes_and_spaces_do_not_matter(raw: str) -> None:
    for typed in (raw, raw.lower(), f"{raw[:4]}-{raw[4:]}", f" {raw[:4]} {raw[4:].lower()} "):
        assert normalize_user_code(typed) == raw


@pytest.mark.parametrize(
    "typed", ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ0", "ßCDF-GHJK"]
)
def test_what_cannot_be_a_code(typed: str) -> None:
    assert normalize_user_code(typed) is None


def test_scopes() -> None:
    assert parse_scope(None) == ("read", "write")
    assert parse_scope("write read read") == ("read", "write")
    assert parse_scope("read") == ("read",)
    for bad in ("", "   ", "admin", "read admin", "READ"):
        assert parse_scope(bad) is None


def _poll(status: str, last: dt.datetime | None, now: dt.datetime, interval: int = 5):  # type: ignore[no-untyped-def]
    return decide_poll(
        status=status,  # type: ignore[arg-type]
        expires_at=EXPIRES,
        last_polled_at=last,
        interval_s=interval,
        now=now,
    )


def test_pending_then_slow_down_raises_the_interval_for_good() -> None:
    assert _poll("pending", None, T0).outcome == "authorization_pending"
    assert _poll("pending", T0, T0 + dt.timedelta(seconds=5)).outcome == "authorization_pending"
    fast = _poll("pending", T0, T0 + dt.timedelta(seconds=4.9))
    assert (fast.outcome, fast.interval_s) == ("slow_down", 5 + SLOW_DOWN_STEP_S)
    # The raised interval now holds: 6 s is too fast for it.
    again = _poll("pending", T0, T0 + dt.timedelta(seconds=6), interval=fast.interval_s)
    assert (again.outcome, again.interval_s) == ("slow_down", 15)


def test_every_status_and_timing() -> None:
    times = [None, T0 - dt.timedelta(seconds=1), T0 - dt.timedelta(seconds=30)]
    for status, last, now in itertools.product(
        ("pending", "approved", "denied", "consumed"),
        times,
        (T0, EXPIRES, EXPIRES + dt.timedelta(1)),
    ):
        outcome = _poll(status, last, now).outcome
        if status == "consumed":
            assert outcome == "used"  # single use, whatever else holds
        elif now >= EXPIRES:
            assert outcome == "expired_token"
        elif status == "denied":
            assert outcome == "access_denied"
        elif status == "approved":
            assert outcome == "issue"  # no slow_down once decided: the tokens are ready
        elif last == T0 - dt.timedelta(seconds=1):
            assert outcome == "slow_down"
        else:
            assert outcome == "authorization_pending"


def test_verification_lock_window() -> None:
    window = dt.timedelta(minutes=5)
    kw = {"max_failures": 5, "window": window}
    assert not verification_locked(0, None, T0, **kw)  # type: ignore[arg-type]
    assert not verification_locked(4, T0, T0 + dt.timedelta(seconds=1), **kw)  # type: ignore[arg-type]
    assert verification_locked(5, T0, T0 + dt.timedelta(seconds=1), **kw)  # type: ignore[arg-type]
    assert not verification_locked(5, T0, T0 + window, **kw)  # type: ignore[arg-type]
