"""Pure: which org and role verified ID token claims map to, or why none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from admin.signin.oidc.config import ClaimMapping
from admin.signin.roles import Role


@dataclass(frozen=True)
class Mapped:
    org_id: str
    role: Role
    email: str


class Unmapped(Exception):
    """The user signed in correctly but has no place in Volt (a 403, not a 401)."""


def _groups(claims: Mapping[str, Any], name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def map_claims(claims: Mapping[str, Any], rules: ClaimMapping) -> Mapped:
    """Usage: `map_claims(id_token_claims, provider.mapping)`; raises Unmapped."""
    email = claims.get(rules.email_claim)
    if not isinstance(email, str) or "@" not in email:
        raise Unmapped(f"The ID token has no email address in '{rules.email_claim}'.")
    email = email.strip().lower()
    # Anyone can put any address on an unverified account at some IdPs; the domain would
    # then pick the org for them.
    if rules.require_email_verified and claims.get("email_verified") is not True:
        raise Unmapped("The email address is not verified by the identity provider.")
    groups = _groups(claims, rules.groups_claim)
    org_id = next((rules.org_by_group[g] for g in groups if g in rules.org_by_group), None)
    if org_id is None:
        org_id = rules.org_by_email_domain.get(email.rsplit("@", 1)[1])
    if org_id is None:
        raise Unmapped(f"No organization is configured for {email}.")
    roles = {rules.role_by_group[g] for g in groups if g in rules.role_by_group}
    role: Role | None
    if email in rules.admin_emails or "admin" in roles:
        role = "admin"
    elif roles:
        role = "member"
    else:
        role = rules.default_role
    if role is None:
        raise Unmapped(f"{email} is in none of the groups allowed to sign in.")
    return Mapped(org_id, role, email)
