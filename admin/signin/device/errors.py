"""The OAuth 2.0 error response (RFC 6749 §5.2, RFC 8628 §3.5) for the device flow endpoints.

OAuth clients (the `volt` CLI, any RFC 8628 library) branch on `error`, so these endpoints
answer `{"error": "authorization_pending", "error_description": ...}` rather than the OpenAI
error object the rest of the API uses. Raised like any other error; the error middleware
renders `body()`.
"""

from __future__ import annotations

from typing import Any, Literal

from voltcore.errors import VoltError

OAuthErrorCode = Literal[
    "authorization_pending",
    "slow_down",
    "access_denied",
    "expired_token",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "invalid_scope",
    "unsupported_grant_type",
    "too_many_requests",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(VoltError):
    status = 400
    type = "oauth_error"

    def __init__(
        self,
        error: OAuthErrorCode,
        description: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description, code=error, headers={**NO_STORE, **(headers or {})})

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.message}


class OAuthRateLimited(OAuthError):
    """429 with `Retry-After`: this client address asked too often."""

    status = 429

    def __init__(self, description: str, retry_after_s: int) -> None:
        super().__init__(
            "too_many_requests", description, headers={"Retry-After": str(retry_after_s)}
        )
