"""OIDC's pure parts: PKCE (RFC 7636's own test vector), return paths and claim mapping."""

from __future__ import annotations

import pytest

from admin.signin.oidc.config import ClaimMapping, OidcSettings, ProviderConfig
from admin.signin.oidc.mapping import Unmapped, map_claims
from admin.signin.oidc.pkce import LoginSecrets, s256, safe_return_to


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_login_secrets_are_fresh_and_long() -> None:
    a, b = LoginSecrets.new(), LoginSecrets.new()
    assert len({a.state, a.nonce, a.verifier, b.state, b.nonce, b.verifier}) == 6
    assert 43 <= len(a.verifier) <= 128


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/oauth/device?user_code=BCDF-GHJK", "/oauth/device?user_code=BCDF-GHJK"),
        ("/console", "/console"),
        (None, "/console"),
        ("https://evil.example/", "/console"),
        ("//evil.example/", "/console"),
        ("/\\evil.example", "/console"),
        ("/x\r\nSet-Cookie: a=b", "/console"),
    ],
)
def test_return_to_is_local_only(value: str | None, expected: str) -> None:
    assert safe_return_to(value) == expected


RULES = ClaimMapping(
    org_by_email_domain={"Acme.example": "org_acme"},
    org_by_group={"globex-staff": "org_globex"},
    role_by_group={"volt-admins": "admin", "volt-viewers": "member"},
    admin_emails=["Boss@Acme.example"],
)


def _claims(email: str = "ann@acme.example", **extra: object) -> dict[str, object]:
    return {"sub": "1", "email": email, "email_verified": True, **extra}


def test_org_by_domain_and_role_by_group() -> None:
    m = map_claims(_claims("Ann@ACME.example", groups=["volt-admins"]), RULES)
    assert (m.org_id, m.role, m.email) == ("org_acme", "admin", "ann@acme.example")
    assert map_claims(_claims(groups=["volt-viewers"]), RULES).role == "member"
    assert map_claims(_claims(), RULES).role == "member"  # the default role
    assert map_claims(_claims("boss@acme.example"), RULES).role == "admin"
    # A group may pick the org (users across domains); it wins over the domain.
    assert map_claims(_claims(groups=["globex-staff"]), RULES).org_id == "org_globex"
    assert map_claims(_claims(groups="volt-admins"), RULES).role == "admin"  # a lone string


def test_refusals() -> None:
    with pytest.raises(Unmapped, match="No organization"):
        map_claims(_claims("eve@evil.example"), RULES)
    with pytest.raises(Unmapped, match="not verified"):
        map_claims(_claims(email_verified=False), RULES)
    with pytest.raises(Unmapped, match="no email"):
        map_claims({"sub": "1"}, RULES)
    strict = RULES.model_copy(update={"default_role": None})
    with pytest.raises(Unmapped, match="none of the groups"):
        map_claims(_claims(), strict)


def test_entra_id_style_mapping() -> None:
    # Entra ID: the UPN in preferred_username, no email_verified; groups are object ids.
    entra = ClaimMapping(
        email_claim="preferred_username",
        require_email_verified=False,
        org_by_email_domain={"contoso.com": "org_c"},
        role_by_group={"6d1c2f58-0000-4c47-9ad1-2b0b8c8a1e1f": "admin"},
    )
    claims = {
        "preferred_username": "Ann@contoso.com",
        "groups": ["6d1c2f58-0000-4c47-9ad1-2b0b8c8a1e1f"],
    }
    assert map_claims(claims, entra).role == "admin"


def test_providers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "VOLT_OIDC_PROVIDERS",
        '[{"name": "okta", "issuer": "https://acme.okta.com", "client_id": "0oa1",'
        ' "client_secret": "x", "mapping": {"org_by_email_domain": {"acme.com": "org_a"}}},'
        ' {"name": "google", "issuer": "https://accounts.google.com", "client_id": "g"}]',
    )
    settings = OidcSettings()
    okta = settings.provider(None)
    assert okta is not None and okta.name == "okta" and okta.issuer_str == "https://acme.okta.com"
    google = settings.provider("google")
    assert isinstance(google, ProviderConfig) and google.scopes == ["openid", "email", "profile"]
    assert settings.provider("entra") is None
