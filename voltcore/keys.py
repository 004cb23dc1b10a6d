"""API key format: `volt_sk_live_` + 40 random base62 characters (238 bits) + a 6-character
CRC32 checksum, so a mistyped or truncated key is rejected without touching the database and
secret scanners can recognise leaked keys. Only the SHA-256 of a key is stored; the key being
high-entropy, a fast hash is enough (no salt or stretching needed, as for GitHub's tokens).
OAuth access and refresh tokens (device flow) have the same shape under their own prefixes,
`volt_at_` and `volt_rt_`; an access token authenticates wherever a key does.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Literal

from voltcore.ids import ALPHABET, random_base62

KEY_PREFIX = "volt_sk_live_"
ACCESS_TOKEN_PREFIX = "volt_at_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "volt_rt_"  # noqa: S105
_RANDOM_LEN = 40
_CHECK_LEN = 6
_SECRET_RE = re.compile(
    rf"^(volt_sk_live_|volt_at_|volt_rt_)([A-Za-z0-9]{{{_RANDOM_LEN}}})([A-Za-z0-9]{{{_CHECK_LEN}}})$"
)

Scope = Literal["read", "write"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "write")


def _checksum(body: str) -> str:
    n = zlib.crc32(body.encode())
    out = ""
    for _ in range(_CHECK_LEN):
        n, r = divmod(n, len(ALPHABET))
        out = ALPHABET[r] + out
    return out


def generate_secret(prefix: str) -> str:
    """A fresh credential under one of the known prefixes (key, access or refresh token)."""
    body = random_base62(_RANDOM_LEN)
    return f"{prefix}{body}{_checksum(body)}"


def generate_key() -> str:
    return generate_secret(KEY_PREFIX)


def is_well_formed(key: str) -> bool:
    match = _SECRET_RE.match(key)
    return bool(match) and _checksum(match[2]) == match[3]  # type: ignore[index]


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def redact(key: str) -> str:
    prefix = next(
        (p for p in (ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX) if key.startswith(p)), KEY_PREFIX
    )
    return f"{prefix}...{key[-4:]}"
