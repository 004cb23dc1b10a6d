"""`client.oauth`: the device authorization grant (RFC 8628) and token refresh. These calls
authenticate by their form body, never with the client's own token."""

from __future__ import annotations

from typing import Literal

from volt._call import Call, body
from volt._constants import CLI_CLIENT_ID
from volt._resource import M, Resource, endpoint
from volt.types.oauth import DeviceAuthorization, TokenResponse


class OAuth(Resource[M]):
    @endpoint
    def device_code(
        self, *, client_id: str = CLI_CLIENT_ID, scope: str | None = None
    ) -> Call[DeviceAuthorization]:
        """Start a device authorization. Usage: `client.oauth.device_code(scope="read write")`."""
        form = body(client_id=client_id, scope=scope)
        return Call(
            "POST", "/oauth/device/code", DeviceAuthorization, form=form, authenticated=False
        )

    @endpoint
    def token(
        self,
        *,
        grant_type: Literal["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        device_code: str | None = None,
        refresh_token: str | None = None,
        client_id: str = CLI_CLIENT_ID,
        scope: str | None = None,
    ) -> Call[TokenResponse]:
        """Exchange a device code or refresh token for tokens; a pending authorization raises
        `OAuthError` with `code == "authorization_pending"`.

        Usage: `client.oauth.token(grant_type=DEVICE_CODE_GRANT, device_code=auth.device_code)`.
        """
        form = body(
            grant_type=grant_type,
            device_code=device_code,
            refresh_token=refresh_token,
            client_id=client_id,
            scope=scope,
        )
        return Call("POST", "/oauth/token", TokenResponse, form=form, authenticated=False)

    @endpoint
    def revoke(
        self,
        token: str,
        *,
        token_type_hint: Literal["access_token", "refresh_token"] | None = None,
        client_id: str = CLI_CLIENT_ID,
    ) -> Call[None]:
        """Revoke a token (RFC 7009); a refresh token takes its whole sign-in with it.

        Usage: `client.oauth.revoke(credentials.refresh_token, token_type_hint="refresh_token")`.
        """
        form = body(token=token, token_type_hint=token_type_hint, client_id=client_id)
        return Call("POST", "/oauth/revoke", type(None), form=form, authenticated=False)
