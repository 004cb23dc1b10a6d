"""Where the CLI keeps its sign-in, shared with the SDK: `credentials.json` in
`$VOLT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/volt`, else `~/.config/volt`, readable only by
its owner (0600)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from pydantic import BaseModel

from volt._constants import TOKEN_REFRESH_SKEW_S
from volt.types.oauth import TokenResponse


class Credentials(BaseModel):
    """Tokens from the device flow, and the base URL they belong to.

    Usage: `creds = load_credentials(); client = Volt(credentials=creds)`.
    """

    base_url: str
    access_token: str
    refresh_token: str | None = None
    # Unix seconds; None when the server did not say.
    expires_at: float | None = None
    scope: str | None = None

    @classmethod
    def from_token(
        cls, base_url: str, token: TokenResponse, *, previous: Credentials | None = None
    ) -> Credentials:
        return cls(
            base_url=base_url,
            access_token=token.access_token,
            # A refresh grant may leave the refresh token out: the old one stays valid.
            refresh_token=token.refresh_token or (previous.refresh_token if previous else None),
            expires_at=time.time() + token.expires_in,
            scope=token.scope,
        )

    def expired(self, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return (now or time.time()) >= self.expires_at - TOKEN_REFRESH_SKEW_S


def config_dir() -> Path:
    if explicit := os.environ.get("VOLT_CONFIG_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "volt"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load_credentials(path: Path | None = None) -> Credentials | None:
    """The saved sign-in, or None when there is none (or it is unreadable)."""
    path = path or credentials_path()
    try:
        return Credentials.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def save_credentials(credentials: Credentials, path: Path | None = None) -> Path:
    """Writes atomically, created 0600 from the start so the tokens are never world-readable."""
    path = path or credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(credentials.model_dump_json(indent=2))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def delete_credentials(path: Path | None = None) -> bool:
    """True when there was a saved sign-in to remove."""
    try:
        (path or credentials_path()).unlink()
    except FileNotFoundError:
        return False
    return True
