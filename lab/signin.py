"""Console sign-in for the embedded default: the lab's OIDC provider (lab/idp.py) on a loopback
port with one user, the demo org's admin, and the provider configuration that lets exactly that
user into the console as the org's admin.

    async with LocalIdp(data_dir / "lab" / "signin") as idp:
        app[OIDC_SETTINGS] = OidcSettings(providers=[idp.provider(org_id)])

At the provider's authorization form the user picks `admin` (one click): no password, which is
what a lab on loopback wants and all it may have. The provider keeps its signing key in memory:
ID tokens are only read at sign-in, and Volt's console sessions are its own, so nothing is lost
when it restarts with a new key."""

from __future__ import annotations

import json
import secrets
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from admin.signin.oidc.config import ClaimMapping, ProviderConfig
from lab.idp import Idp, serve_idp


class LocalIdp:
    """Usage: `async with LocalIdp(directory) as idp: idp.issuer, idp.provider(org_id)`.

    The port is `port`, else the one this directory's provider had (so the issuer, and the
    login page a browser was on, stay the same across restarts) if it is still free, else a
    free one."""

    USER: ClassVar[str] = "admin"
    EMAIL: ClassVar[str] = "admin@demo.volt.local"  # the demo org's first admin
    CLIENT_ID: ClassVar[str] = "volt-console"

    def __init__(self, directory: Path | None = None, *, port: int | None = None) -> None:
        self.dir = directory
        self._port = port
        # The mock takes any client secret. Volt's public-client path (no secret) is refused
        # by its token endpoint, which only knows client_secret_basic: so a secret, per run.
        self._secret = secrets.token_urlsafe(24)
        self._stack = ExitStack()
        self._idp: Idp | None = None

    @property
    def issuer(self) -> str:
        if self._idp is None:
            raise RuntimeError("LocalIdp is not running")
        return self._idp.issuer

    def provider(self, org_id: str) -> ProviderConfig:
        """Sign-in named `local`: the admin's email domain maps to `org_id`, the admin's email
        to the admin role, and no one else gets a role. (A sub typed into the provider's form
        signs in without a verified email, and is refused before that.)"""
        return ProviderConfig(
            name="local",
            issuer=self.issuer,
            client_id=self.CLIENT_ID,
            client_secret=self._secret,
            mapping=ClaimMapping(
                org_by_email_domain={self.EMAIL.rpartition("@")[2]: org_id},
                admin_emails=[self.EMAIL],
                default_role=None,
            ),
        )

    @property
    def _state(self) -> Path | None:
        return None if self.dir is None else self.dir / "idp.json"

    def _remembered_port(self) -> int:
        state = self._state
        if self._port is not None:
            return self._port
        if state is not None and state.exists():
            return int(json.loads(state.read_text())["port"])
        return 0

    def start(self) -> None:
        claims = {"email": self.EMAIL, "email_verified": True, "name": "Demo admin"}
        users = [(self.USER, claims)]
        port = self._remembered_port()
        try:
            self._idp = self._stack.enter_context(serve_idp(port, users=users))
        except OSError:
            if self._port is not None:  # the port asked for is taken: nothing else will do
                raise
            self._idp = self._stack.enter_context(serve_idp(0, users=users))
        state = self._state
        if state is not None:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"port": int(self.issuer.rpartition(":")[2])}))

    def stop(self) -> None:
        self._stack.close()
        self._idp = None

    async def __aenter__(self) -> LocalIdp:
        self.start()  # a thread and a bound socket: nothing here blocks for long
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
