"""Pure parts, without a server: where credentials live and how they are written, the
server-sent event decoder, and which requests carry what."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from volt import APIError, Credentials, Volt
from volt._call import Call
from volt._protocol import Auth, Send, Session
from volt._streaming import DONE, decode
from volt.credentials import config_dir, load_credentials, save_credentials
from volt.resources.finetuning import JOB_LIFECYCLE
from volt.resources.forge import LEASE_LIFECYCLE
from volt.resources.vault import RACK_LIFECYCLE
from volt.types import ChatCompletionChunk, Principal
from volt.types.finetuning import TERMINAL_JOB_STATUSES


def test_config_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VOLT_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "volt"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "volt"
    monkeypatch.setenv("VOLT_CONFIG_DIR", str(tmp_path / "explicit"))
    assert config_dir() == tmp_path / "explicit"


def test_credentials_are_written_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "credentials.json"
    creds = Credentials(base_url="http://x", access_token="volt_at_a", expires_at=time.time() + 60)
    save_credentials(creds, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_credentials(path) == creds
    assert not creds.expired() and creds.model_copy(update={"expires_at": 1.0}).expired()
    path.write_text("{not json")
    assert load_credentials(path) is None


def test_sse_decoding() -> None:
    request = httpx.Request("POST", "http://x/v1/chat/completions")
    chunk = (
        'data: {"id": "c", "choices": [], "created": 1, "model": "m", '
        '"object": "chat.completion.chunk"}'
    )
    assert isinstance(decode(chunk, ChatCompletionChunk, request), ChatCompletionChunk)
    assert decode("data: [DONE]", ChatCompletionChunk, request) is DONE
    assert decode("", ChatCompletionChunk, request) is None
    assert decode(": keep-alive", ChatCompletionChunk, request) is None
    error = (
        'data: {"error": {"message": "boom", "type": "server_error", "param": null, "code": "x"}}'
    )
    with pytest.raises(APIError) as caught:
        decode(error, ChatCompletionChunk, request)
    assert caught.value.code == "x"


def test_requests_carry_what_they_should() -> None:
    session = Session(
        base_url="http://volt.test",
        auth=Auth(api_key="volt_sk_live_k", credentials=None, org_id="org_1"),
        max_retries=0,
        timeout=httpx.Timeout(5),
        headers={},
    )
    post = session.exchange(Call("POST", "/v1/orgs/{org_id}/api-keys", Principal, json={"a": 1}))
    step = next(post)
    assert isinstance(step, Send)
    sent = step.request
    assert sent.url == "http://volt.test/v1/orgs/org_1/api-keys"
    assert sent.headers["authorization"] == "Bearer volt_sk_live_k"
    assert sent.headers["idempotency-key"].startswith("volt-")
    assert sent.headers["content-type"] == "application/json"

    oauth = session.exchange(
        Call("POST", "/oauth/token", Principal, form={"grant_type": "x"}, authenticated=False)
    )
    step = next(oauth)
    assert isinstance(step, Send)
    assert "authorization" not in step.request.headers
    assert "idempotency-key" not in step.request.headers
    assert step.request.content == b"grant_type=x"

    listed = session.exchange(Call("GET", "/v1/files", Principal, params={"a": [1, 2], "b": None}))
    step = next(listed)
    assert isinstance(step, Send) and step.request.url.query == b"a=1&a=2"


def test_saved_tokens_only_go_to_their_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOLT_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("VOLT_API_KEY", raising=False)
    monkeypatch.delenv("VOLT_BASE_URL", raising=False)
    save_credentials(Credentials(base_url="http://issuer.test/", access_token="volt_at_a"))
    with Volt() as client:
        assert client.base_url == "http://issuer.test"
        assert client.credentials is not None
    with Volt(base_url="http://issuer.test") as client:
        assert client.credentials is not None
    monkeypatch.setenv("VOLT_BASE_URL", "http://elsewhere.test")
    with Volt() as client:
        assert client.base_url == "http://elsewhere.test" and client.credentials is None
    with Volt(api_key="volt_sk_live_k") as client:
        assert client.credentials is None


def test_which_statuses_end_a_wait() -> None:
    active, ready = frozenset({"active"}), frozenset({"ready"})
    assert not any(LEASE_LIFECYCLE.unreachable(s, active) for s in ("pending", "provisioning"))
    assert all(
        LEASE_LIFECYCLE.unreachable(s, active)
        for s in ("terminating", "terminated", "failed", "expired")
    )
    assert not LEASE_LIFECYCLE.unreachable("terminating", frozenset({"terminated"}))
    assert LEASE_LIFECYCLE.unreachable("expired", frozenset({"terminated"}))
    # A failed rack is retried by the reconciler: only a release ends the wait for `ready`.
    assert not RACK_LIFECYCLE.unreachable("failed", ready)
    assert RACK_LIFECYCLE.unreachable("releasing", ready)
    assert RACK_LIFECYCLE.unreachable("released", ready)
    assert not RACK_LIFECYCLE.unreachable("ready", frozenset({"released"}))
    assert not JOB_LIFECYCLE.unreachable("running", TERMINAL_JOB_STATUSES)
    assert JOB_LIFECYCLE.unreachable("cancelled", frozenset({"succeeded"}))
