"""OIDC settings: one or more identity providers, each an issuer plus a client registration
and the rules that map its users to a Volt org and role. Okta, Entra ID and Google Workspace
are configurations of these fields, not code paths (see the README for each)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from admin.signin.roles import Role


class ClaimMapping(BaseModel):
    """Who may sign in, into which org, as what. The org comes from the email's domain (or a
    group); the role from a group (or an explicit admin list); anyone unmapped is refused."""

    model_config = ConfigDict(extra="forbid")

    # Entra ID often has no `email`; `preferred_username` (the UPN) is its stable address.
    email_claim: str = "email"
    # Okta and Google send `email_verified`; Entra ID does not, and vouches for its tenant.
    require_email_verified: bool = True
    groups_claim: str = "groups"
    # Lower-case email domain -> org id, e.g. {"acme.com": "org_5fK2..."}.
    org_by_email_domain: dict[str, str] = Field(default_factory=dict)
    # Group -> org id, for IdPs whose users span domains; checked before the domain.
    org_by_group: dict[str, str] = Field(default_factory=dict)
    # Group -> role; any matching "admin" group wins.
    role_by_group: dict[str, Role] = Field(default_factory=dict)
    # Emails that are admins whatever their groups (Google Workspace puts no groups in tokens).
    admin_emails: list[str] = Field(default_factory=list)
    # The role of a mapped user in no role group; None refuses them.
    default_role: Role | None = "member"

    @field_validator("org_by_email_domain")
    @classmethod
    def _lower_domains(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.lower().lstrip("@"): v for k, v in value.items()}

    @field_validator("admin_emails")
    @classmethod
    def _lower_emails(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]


class ProviderConfig(BaseModel):
    """One identity provider. `issuer` must equal the `iss` its ID tokens carry; its discovery
    document (`<issuer>/.well-known/openid-configuration`) supplies the endpoints and JWKS."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    issuer: HttpUrl
    client_id: str = Field(min_length=1)
    # Confidential client (console on a server); None for a public client using PKCE alone.
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    mapping: ClaimMapping = Field(default_factory=ClaimMapping)
    # Seconds of clock skew tolerated on `exp`/`iat`.
    leeway_s: int = Field(30, ge=0, le=300)

    @property
    def issuer_str(self) -> str:
        # HttpUrl adds a trailing slash to bare hosts; `iss` has none (OIDC Discovery §3).
        return str(self.issuer).rstrip("/")


class OidcSettings(BaseSettings):
    """Usage: `OidcSettings()` reads `VOLT_OIDC_*`, e.g. `VOLT_OIDC_PROVIDERS='[{"name": "okta",
    "issuer": "https://acme.okta.com", "client_id": "...", ...}]'`. Without providers console
    sign-in answers 503."""

    model_config = SettingsConfigDict(env_prefix="VOLT_OIDC_", extra="ignore")

    providers: list[ProviderConfig] = Field(default_factory=list)
    # The provider `/auth/oidc/login` uses without `?provider=`; the first when unset.
    default_provider: str | None = None
    session_ttl_s: int = Field(8 * 3600, ge=300, le=7 * 86_400)
    # How long a sign-in may take at the IdP before its state is forgotten.
    login_ttl_s: int = Field(600, ge=60, le=3600)
    # Seconds to wait for the IdP (discovery, JWKS, token endpoint).
    http_timeout_s: float = 10.0

    @field_validator("providers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def provider(self, name: str | None) -> ProviderConfig | None:
        wanted = name or self.default_provider
        if wanted is None:
            return self.providers[0] if self.providers else None
        return next((p for p in self.providers if p.name == wanted), None)
