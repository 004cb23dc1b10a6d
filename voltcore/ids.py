"""Resource identifiers: a type prefix and 24 random base62 characters (`org_...`, `key_...`)."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits


def random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """A fresh, unguessable id. Usage: `new_id("org")` -> `org_4fK...`."""
    return f"{prefix}_{random_base62(24)}"


def spiffe_id(trust_domain: str, org_id: str) -> str:
    """The SPIFFE ID every principal of an org maps to."""
    return f"spiffe://{trust_domain}/tenant/{org_id}"
