"""The rack state table, exhaustively, and the sealing of secrets at rest."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from admin.vault.install import _local_key
from admin.vault.sealing import Sealer, SealError, new_key
from admin.vault.states import MACHINE, RackEvent, RackState, retry_delay
from voltcore.statemachine import IllegalTransition

S, E = RackState, RackEvent
TRANSITIONS = MACHINE.transitions
next_state = MACHINE.next


def test_the_happy_path_and_release() -> None:
    path = [(S.REQUESTED, E.START), (S.ALLOCATING, E.ALLOCATED), (S.PROVISIONING, E.READY)]
    for state, event in path:
        state = next_state(state, event)
    assert state is S.READY
    assert next_state(S.READY, E.RELEASE) is S.RELEASING
    assert next_state(S.RELEASING, E.RELEASED) is S.RELEASED


def test_a_retry_resumes_what_failed() -> None:
    assert next_state(S.FAILED, E.RETRY, S.PROVISIONING) is S.PROVISIONING
    assert next_state(S.FAILED, E.RETRY, S.RELEASING) is S.RELEASING
    assert next_state(S.FAILED, E.RELEASE, S.PROVISIONING) is S.RELEASING
    assert next_state(S.FAILED, E.RELEASE, S.RELEASING) is S.RELEASING


def test_every_other_pair_is_refused_and_released_is_final() -> None:
    special = {(S.FAILED, E.RETRY), (S.FAILED, E.RELEASE)}
    for state, event in itertools.product(S, E):
        if (state, event) in TRANSITIONS or (state, event) in special:
            continue
        with pytest.raises(IllegalTransition):
            next_state(state, event)
    assert not [k for k in TRANSITIONS if k[0] is S.RELEASED]


@given(st.integers(min_value=1, max_value=200))
def test_retry_backoff_doubles_and_is_capped(attempts: int) -> None:
    delay = retry_delay(attempts, 5.0, 300.0)
    assert 5.0 <= delay <= 300.0
    assert retry_delay(attempts + 1, 5.0, 300.0) >= delay


def test_sealed_secrets_open_with_any_configured_key_and_rotate() -> None:
    old, new = new_key(), new_key()
    token = Sealer([old]).seal(b"bmc password")
    assert b"bmc password" not in token
    rotated = Sealer([new, old])
    assert rotated.open(token) == b"bmc password"
    resealed = rotated.reseal(token)
    assert Sealer([new]).open(resealed) == b"bmc password"
    with pytest.raises(SealError):
        Sealer([new]).open(token)
    with pytest.raises(SealError):
        Sealer([])
    with pytest.raises(SealError):
        Sealer(["not a key"])


def test_the_embedded_default_keeps_its_key_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "vault-secret.key"
    key = _local_key(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert _local_key(path) == key
    assert Sealer([key]).open(Sealer([key]).seal(b"x")) == b"x"
