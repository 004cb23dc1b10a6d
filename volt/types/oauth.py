"""The OAuth 2.0 device flow (RFC 8628) the CLI signs in with."""

from __future__ import annotations

from volt.types.common import VoltModel


class DeviceAuthorization(VoltModel):
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int
    interval: int = 5


class TokenResponse(VoltModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None
