"""Exceptions, shaped like openai-python's: one class per HTTP error, each carrying the
error object and the request id (`x-request-id`) to quote in a support request."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from volt.types.common import ErrorObject, VoltOrigin

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "OAuthError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "VoltError",
    "WaitError",
    "WaitTimeoutError",
]


class VoltError(Exception):
    """Base of every exception this package raises."""


class WaitError(VoltError):
    """A `wait(...)` ended without the status it waited for. `resource` is the last snapshot
    polled (a `Lease`, `Rack` or `FineTuningJob`), `status` its status."""

    def __init__(self, message: str, resource: Any, status: str, until: frozenset[str]) -> None:
        super().__init__(message)
        self.resource = resource
        self.status = status
        self.until = until


class UnexpectedStatusError(WaitError):
    """The resource reached a status it never leaves for the one waited on (a lease
    `terminated` while waiting for `active`, a job `failed` while waiting for `succeeded`).

    Usage: `except volt.UnexpectedStatusError as e: print(e.status, e.resource.last_error)`.
    """


class WaitTimeoutError(WaitError, TimeoutError):
    """The wait's `timeout` ran out; the message names the last status (and `last_error`,
    when the resource had one)."""


class APIError(VoltError):
    """An API call failed. `error` is the server's error object when it sent one.

    Usage: `except volt.APIError as e: print(e.message, e.request_id)`.
    """

    def __init__(
        self,
        message: str,
        request: httpx.Request,
        *,
        error: ErrorObject | None = None,
        request_id: str | None = None,
        volt: VoltOrigin | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.error = error
        self.request_id = request_id
        # Which pod refused it: Volt's error bodies and stream error events carry it.
        self.volt = volt

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None

    @property
    def param(self) -> str | None:
        return self.error.param if self.error else None

    @property
    def type(self) -> str | None:
        return self.error.type if self.error else None


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke (after retries)."""

    def __init__(self, request: httpx.Request, message: str = "Connection error.") -> None:
        super().__init__(message, request)


class APITimeoutError(APIConnectionError):
    """The request timed out (after retries)."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(request, "Request timed out.")


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status."""

    status_code: int

    def __init__(
        self,
        message: str,
        response: httpx.Response,
        *,
        error: ErrorObject | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(
            message,
            response.request,
            error=error,
            request_id=response.headers.get("x-request-id"),
            volt=origin_of(body),
        )
        self.response = response
        self.status_code = response.status_code
        self.body = body

    def __str__(self) -> str:
        parts = [f"{self.status_code} {self.message}"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    status_code = 429


class InternalServerError(APIStatusError):
    """Any 5xx."""


class OAuthError(BadRequestError):
    """An OAuth 2.0 error response (RFC 6749 §5.2) from `/oauth/*`: `code` is its `error`,
    e.g. `authorization_pending`, `slow_down`, `access_denied`, `expired_token`."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _class_for(status: int) -> type[APIStatusError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InternalServerError if status >= 500 else APIStatusError


def origin_of(body: Any) -> VoltOrigin | None:
    """The `volt` block of an error body or stream error event, if it has a valid one."""
    raw = body.get("volt") if isinstance(body, dict) else None
    return VoltOrigin.model_validate(raw) if isinstance(raw, dict) else None


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The exception for an error response (its body already read): the OpenAI error object,
    an OAuth error (`{"error": "slow_down", ...}`), or whatever else a proxy may have sent."""
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = response.text
    raw = body.get("error") if isinstance(body, dict) else None
    status = response.status_code
    if isinstance(raw, dict):
        error = ErrorObject.model_validate(raw)
        return _class_for(status)(error.message, response, error=error, body=body)
    if isinstance(raw, str):
        description = body.get("error_description") or raw
        error = ErrorObject(message=description, type="oauth_error", param=None, code=raw)
        cls = OAuthError if status in (400, 401) else _class_for(status)
        return cls(description, response, error=error, body=body)
    text = body if isinstance(body, str) and body else response.reason_phrase
    return _class_for(status)(f"HTTP {status}: {text[:200]}", response, body=body)
