"""`volt login`: the OAuth 2.0 device authorization grant (RFC 8628), then the tokens saved
for the CLI and the SDK (`volt.credentials`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from volt._client import Volt
from volt._constants import CLI_CLIENT_ID, DEVICE_CODE_GRANT
from volt._exceptions import OAuthError
from volt.cli._output import Output
from volt.credentials import Credentials, save_credentials
from volt.types.oauth import TokenResponse

# RFC 8628 §3.5: on `slow_down` the interval grows by 5 seconds for this and later polls.
SLOW_DOWN_STEP_S = 5


class LoginFailed(Exception):
    """The user denied the request, or the code expired before they decided."""


def device_login(
    client: Volt,
    out: Output,
    *,
    scope: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Credentials:
    """Run the device flow to the end and save the credentials.

    Usage: `device_login(Volt(api_key="", base_url=url), out, scope="read write")`.
    """
    auth = client.oauth.device_code(client_id=CLI_CLIENT_ID, scope=scope)
    out.note(f"To sign in, open {auth.verification_uri} and enter the code: {auth.user_code}")
    if auth.verification_uri_complete:
        out.note(f"(or open {auth.verification_uri_complete})")
    out.note("Waiting for approval...")
    interval = float(auth.interval)
    deadline = time.monotonic() + auth.expires_in
    token: TokenResponse | None = None
    while token is None:
        if time.monotonic() >= deadline:
            raise LoginFailed("The code expired before it was approved; run `volt login` again.")
        sleep(interval)
        try:
            token = client.oauth.token(
                grant_type=DEVICE_CODE_GRANT, device_code=auth.device_code, client_id=CLI_CLIENT_ID
            )
        except OAuthError as e:
            if e.code == "authorization_pending":
                continue
            if e.code == "slow_down":
                interval += SLOW_DOWN_STEP_S
                out.note(f"The server asked to poll more slowly: every {interval:.0f}s.")
                continue
            if e.code == "access_denied":
                raise LoginFailed("The sign-in request was denied.") from e
            if e.code == "expired_token":
                raise LoginFailed(
                    "The code expired before it was approved; run `volt login` again."
                ) from e
            raise
    credentials = Credentials.from_token(client.base_url, token)
    path = save_credentials(credentials)
    out.note(f"Signed in (scopes: {token.scope or scope}); credentials saved to {path}")
    return credentials
