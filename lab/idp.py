"""A real OIDC provider (`oidc-provider-mock`, a Flask app) on a real loopback port: discovery,
JWKS, an authorization endpoint whose form signs in whichever user is picked, a token endpoint
issuing RS256-signed ID tokens. It keeps its users, keys and tokens in memory only.

It accepts any client ID and secret, and a sub typed into its form that was never registered
signs in as a user with no verified email (which Volt's claim mapping refuses), so only the
users registered with it (`users=` or `set_user`) get anywhere."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import flask
import oidc_provider_mock  # type: ignore[import-untyped]
import werkzeug.serving

AfterRequest = Callable[[flask.Response], flask.Response]


@dataclass
class Idp:
    """A running provider: `issuer` is what its ID tokens carry in `iss` and where its discovery
    document lives (`<issuer>/.well-known/openid-configuration`)."""

    issuer: str


@contextmanager
def serve_idp(
    port: int = 0,
    *,
    users: Sequence[tuple[str, dict[str, Any]]] = (),
    after_request: AfterRequest | None = None,
) -> Iterator[Idp]:
    """Usage: `with serve_idp(users=[("admin", {"email": ...})]) as idp: idp.issuer`. Port 0
    picks a free one; `after_request` sees every response (tests rewrite tokens with it)."""
    app = oidc_provider_mock.app(
        require_nonce=True,  # Volt's console always sends one; a provider that checks it is real
        user_claims=[oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in users],
    )
    if after_request is not None:
        app.after_request(after_request)
    server = werkzeug.serving.make_server("127.0.0.1", port, app, threaded=True)
    # The mock names its issuer after the Host it is asked on: clients must use this URL.
    idp = Idp(issuer=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-idp", daemon=True
    )
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


async def set_user(idp: Idp, sub: str, claims: dict[str, Any]) -> None:
    """Registers (or replaces) a user: the claims its ID tokens will carry besides `sub`."""
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{idp.issuer}/users/{sub}", json=claims) as resp,
    ):
        if resp.status != 204:
            raise RuntimeError(f"the OIDC provider refused user {sub}: {await resp.text()}")
