"""OAuth2 device authorization grant (RFC 8628) for the `volt` CLI: device codes, the token
endpoint, access and refresh tokens, and approving a user code from a console session."""
