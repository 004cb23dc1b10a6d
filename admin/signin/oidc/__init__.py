"""OIDC sign-in for the console (authorization code + PKCE, state, nonce): ID token
verification against the issuer's JWKS, claim mapping to an org and role, sign-ins in
progress."""
