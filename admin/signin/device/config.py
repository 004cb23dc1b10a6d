"""Device-flow settings: which public clients may ask, code and token lifetimes, poll interval."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OAuthSettings(BaseSettings):
    """Usage: `OAuthSettings()` reads `VOLT_OAUTH_*`."""

    model_config = SettingsConfigDict(env_prefix="VOLT_OAUTH_", extra="ignore")

    # Public clients (no secret: a CLI cannot keep one) allowed to start a device flow.
    client_ids: list[str] = Field(default_factory=lambda: ["volt-cli"])
    device_code_ttl_s: int = Field(600, ge=1, le=3600)
    # RFC 8628's default minimum poll interval.
    interval_s: int = Field(5, ge=1, le=60)
    access_token_ttl_s: int = Field(3600, ge=60, le=86_400)
    refresh_token_ttl_s: int = Field(30 * 86_400, ge=3600)
    # Wrong user codes a console session may enter per window before it must wait.
    verify_max_failures: int = Field(5, ge=1)
    verify_window_s: int = Field(300, ge=10)
    # Wrong user codes entered by anyone while a code is pending, after which it can no longer
    # be approved (the CLI starts again): each guess has a 1 in 20^8 chance, so however many
    # sessions guess, a code falls with odds of about 2 in a billion.
    verify_code_max_failures: int = Field(50, ge=1)
    # Device authorizations one client address may start per window: each is a row and a
    # user code, so a flood must not fill the table or crowd the code space.
    device_codes_per_window: int = Field(10, ge=1)
    device_code_window_s: int = Field(60, ge=1)
