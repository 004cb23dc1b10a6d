"""Sign-in: the console's browser session (`session/`), the CLI's OAuth2 device flow
(`device/`) and OIDC sign-in for people (`oidc/`), with their app keys and `install`. The
console's pages use it; it imports nothing of the console."""
