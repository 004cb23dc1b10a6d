"""The request protocol, without I/O: authentication (and refreshing a device-flow token),
the caller's org id, the `Idempotency-Key`, retries and errors are one generator that yields
what to do (`Send` a request, `Sleep`) and receives what happened. `Volt` and `AsyncVolt`
each drive it with their own httpx client and sleep, so neither holds any of this logic.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Generator
from typing import Any, TypeVar, cast

import httpx
import orjson

from volt._call import ORG, Call
from volt._constants import CLI_CLIENT_ID, REFRESH_WAIT_S, RETRY_STATUSES
from volt._exceptions import APIConnectionError, APITimeoutError, error_from_response
from volt._retry import retry_delay
from volt._version import __version__
from volt.credentials import Credentials
from volt.types.oauth import TokenResponse
from volt.types.tenancy import Principal

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Send:
    request: httpx.Request
    # Leave a successful body unread (a server-sent event stream); error bodies are always read.
    stream: bool = False


@dataclasses.dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Send | Sleep
Outcome = httpx.Response | httpx.TransportError | None
Exchange = Generator[Step, Outcome, T]


@dataclasses.dataclass
class Auth:
    """The credentials of one client and of every `with_options` copy of it: one object, so a
    token one copy refreshes is the token all of them use, and one refresh runs at a time (a
    refresh token is single-use, and the server takes its reuse for theft and revokes all)."""

    api_key: str | None
    credentials: Credentials | None
    # Called with refreshed device-flow credentials (the CLI saves them).
    on_refresh: Callable[[Credentials], None] | None = None
    # Set while one call refreshes the token: others wait for it rather than refresh too.
    refreshing: bool = False
    org_id: str | None = None

    @property
    def token(self) -> str | None:
        return self.api_key or (self.credentials.access_token if self.credentials else None)


@dataclasses.dataclass
class Session:
    """What every request of one client shares; `with_options` copies it, keeping its `auth`."""

    base_url: str
    auth: Auth
    max_retries: int
    timeout: httpx.Timeout
    headers: dict[str, str]

    @property
    def credentials(self) -> Credentials | None:
        return self.auth.credentials

    @property
    def token(self) -> str | None:
        return self.auth.token

    def exchange(self, call: Call[Any], *, stream: bool = False) -> Exchange[httpx.Response]:
        """Drive one call to its final response, or raise its `APIError`."""
        if call.authenticated and self._can_refresh():
            assert self.credentials is not None
            if self.credentials.expired():
                yield from self._refresh(self.credentials)
        path = call.path
        if ORG in path:
            path = path.replace(ORG, (yield from self._org_id()))
        key = call.idempotency_key
        if key is None and call.method == "POST" and call.authenticated:
            # One key for every attempt: a retried POST whose first attempt did land is answered
            # with the original result instead of creating a second resource.
            key = f"volt-{uuid.uuid4()}"
        attempt, refreshed = 0, False
        while True:
            used = self.credentials
            request = self._build(call, path, key)
            outcome = yield Send(request, stream)
            if isinstance(outcome, httpx.TransportError):
                delay = retry_delay(attempt) if attempt < self.max_retries else None
                if delay is None:
                    if isinstance(outcome, httpx.TimeoutException):
                        raise APITimeoutError(request) from outcome
                    raise APIConnectionError(request) from outcome
                yield Sleep(delay)
                attempt += 1
                continue
            assert outcome is not None
            if outcome.status_code == 401 and not refreshed and self._can_refresh():
                # The token may have been revoked or expired early: one refresh, one more try.
                refreshed = True
                assert used is not None
                yield from self._refresh(used)
                continue
            if outcome.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = retry_delay(attempt, outcome.headers)
                if delay is not None:
                    yield Sleep(delay)
                    attempt += 1
                    continue
            if outcome.is_error:
                raise error_from_response(outcome)
            return outcome

    def fetch(self, call: Call[T]) -> Exchange[T]:
        return parse(call, (yield from self.exchange(call)))

    def _build(self, call: Call[Any], path: str, key: str | None) -> httpx.Request:
        headers = {
            "accept": "application/json",
            "user-agent": f"volt-python/{__version__}",
            **self.headers,
        }
        if call.authenticated and self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if key is not None:
            headers["idempotency-key"] = key
        content: bytes | None = None
        if call.json is not None:
            content = orjson.dumps(call.json)
            headers["content-type"] = "application/json"
        return httpx.Request(
            call.method,
            self.base_url.rstrip("/") + path,
            params=_query(call.params),
            headers=headers,
            content=content,
            data=call.form or call.data,
            files=call.files,
            extensions={"timeout": self.timeout.as_dict()},
        )

    def _org_id(self) -> Exchange[str]:
        if self.auth.org_id is None:
            me = yield from self.fetch(Call("GET", "/v1/me", Principal))
            self.auth.org_id = me.org_id
        return self.auth.org_id

    def _can_refresh(self) -> bool:
        return self.auth.api_key is None and bool(
            self.credentials and self.credentials.refresh_token
        )

    def _refresh(self, stale: Credentials) -> Exchange[None]:
        """Replace `stale` credentials, once, however many calls found them stale."""
        auth = self.auth
        while auth.refreshing:
            yield Sleep(REFRESH_WAIT_S)
        if auth.credentials is not stale:
            return  # another call (or another copy of this client) refreshed them meanwhile
        assert stale.refresh_token is not None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": stale.refresh_token,
            "client_id": CLI_CLIENT_ID,
        }
        call = Call("POST", "/oauth/token", TokenResponse, form=form, authenticated=False)
        auth.refreshing = True
        try:
            token = yield from self.fetch(call)
        finally:
            auth.refreshing = False
        auth.credentials = Credentials.from_token(self.base_url, token, previous=stale)
        if auth.on_refresh is not None:
            auth.on_refresh(auth.credentials)


def parse(call: Call[T], response: httpx.Response) -> T:
    """The response body as `call.cast`: text for `str`, raw bytes for `bytes`, nothing for
    `None`, otherwise validated JSON."""
    if call.cast is str:
        return cast(T, response.text)
    if call.cast is bytes:
        return cast(T, response.content)
    if call.cast is type(None):
        return None
    model = cast(Any, call.cast)
    return cast(T, model.model_validate_json(response.content))


def _query(params: Any) -> list[tuple[str, str | int | float | bool | None]] | None:
    """Query parameters without the unset ones; lists repeat the parameter (`explode`)."""
    if not params:
        return None
    items: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        items.extend((name, _text(v)) for v in values if v is not None)
    return items


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
