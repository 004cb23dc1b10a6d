"""Typed errors that the error middleware renders as the OpenAI error object.

Handlers raise these instead of building error responses, so every error has one shape:
`{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VoltError(Exception):
    """Base of every error a client may see."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(VoltError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(VoltError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(VoltError):
    status = 403
    type = "permission_error"
    default_code = "insufficient_scope"


class NotFound(VoltError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class MethodNotAllowed(VoltError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


class Conflict(VoltError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class PayloadTooLarge(VoltError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class RequestTimeout(VoltError):
    status = 408
    type = "invalid_request_error"
    default_code = "request_timeout"


class UnsupportedMediaType(VoltError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"


class RateLimited(VoltError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ServiceUnavailable(VoltError):
    status = 503
    type = "service_unavailable"
    default_code = "service_unavailable"


class InternalError(VoltError):
    status = 500
    type = "server_error"
    default_code = "internal_error"
