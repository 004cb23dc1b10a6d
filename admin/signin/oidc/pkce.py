"""Pure: the one-time values of an authorization request (RFC 7636 PKCE, OIDC state and
nonce)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LoginSecrets:
    """`state` ties the callback to this browser's login, `nonce` the ID token to this login,
    `verifier` the code exchange to whoever started it."""

    state: str
    nonce: str
    verifier: str

    @property
    def challenge(self) -> str:
        return s256(self.verifier)

    @classmethod
    def new(cls) -> LoginSecrets:
        # 256 bits each; the verifier's 43 characters are RFC 7636's minimum length.
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(32))


def safe_return_to(value: str | None, default: str = "/console") -> str:
    """Only a local path: an open redirect would let a phishing link land users anywhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ch in value for ch in "\r\n\t") or len(value) > 512:
        return default
    return value
