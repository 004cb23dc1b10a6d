"""An OIDC relying party for one provider: discovery, the authorization URL, the code exchange
and ID token verification against the provider's JWKS (OpenID Connect Core §3.1.3.7)."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt

from admin.signin.oidc.config import ProviderConfig
from admin.signin.oidc.pkce import LoginSecrets

# Asymmetric algorithms only: `none` would accept anything, and an HS* token is "signed" with
# the client secret, which would let whoever knows it mint identities.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})
# Discovery and keys change rarely; a token signed with an unknown key refetches the keys
# (rotation), at most this often, so forged tokens cannot make us hammer the IdP.
METADATA_TTL_S = 3600.0
JWKS_REFETCH_MIN_S = 30.0


class ProviderError(Exception):
    """The IdP could not be reached or answered nonsense (a 503: not the user's fault)."""


class TokenRejected(Exception):
    """The ID token (or the code exchange) failed verification (a 401). `reason` is short and
    stable: signature, issuer, audience, expired, nonce, malformed, exchange."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: frozenset[str]


class OidcClient:
    """Usage: `url = await client.authorization_url(secrets, redirect_uri)`; at the callback
    `claims = await client.sign_in(code, secrets, redirect_uri)`."""

    def __init__(self, http: aiohttp.ClientSession, provider: ProviderConfig) -> None:
        self._http = http
        self.provider = provider
        self._metadata: tuple[Metadata, float] | None = None
        self._jwks: tuple[jwt.PyJWKSet, float] | None = None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.get(url) as resp:
                if resp.status != 200:
                    raise ProviderError(f"{url} answered {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise ProviderError(f"{url}: {err!r}") from err
        if not isinstance(data, dict):
            raise ProviderError(f"{url} did not answer a JSON object")
        return data

    async def metadata(self) -> Metadata:
        if self._metadata is not None and time.monotonic() - self._metadata[1] < METADATA_TTL_S:
            return self._metadata[0]
        issuer = self.provider.issuer_str
        doc = await self._get_json(f"{issuer}/.well-known/openid-configuration")
        # OIDC Discovery §4.3: a document for another issuer must not be used.
        if doc.get("issuer") != issuer:
            raise ProviderError(f"discovery names issuer {doc.get('issuer')!r}, not {issuer!r}")
        try:
            meta = Metadata(
                issuer=issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                end_session_endpoint=doc.get("end_session_endpoint"),
                algorithms=frozenset(doc.get("id_token_signing_alg_values_supported", ["RS256"]))
                & ALGORITHMS,
            )
        except KeyError as err:
            raise ProviderError(f"discovery document lacks {err}") from err
        self._metadata = (meta, time.monotonic())
        return meta

    async def _keys(self, *, refetch: bool = False) -> jwt.PyJWKSet:
        now = time.monotonic()
        if self._jwks is not None and not (refetch and now - self._jwks[1] > JWKS_REFETCH_MIN_S):
            return self._jwks[0]
        meta = await self.metadata()
        try:
            keys = jwt.PyJWKSet.from_dict(await self._get_json(meta.jwks_uri))
        except jwt.PyJWTError as err:
            raise ProviderError(f"unusable JWKS: {err}") from err
        self._jwks = (keys, now)
        return keys

    async def _key_for(self, kid: str | None) -> jwt.PyJWK:
        for refetch in (False, True):
            keys = await self._keys(refetch=refetch)
            # Without a `kid` only a single-key set is unambiguous.
            matches = [k for k in keys.keys if kid is None or k.key_id == kid]
            if len(matches) == 1:
                return matches[0]
        raise TokenRejected("signature", "The ID token is signed with a key the issuer lacks.")

    async def authorization_url(self, login: LoginSecrets, redirect_uri: str) -> str:
        meta = await self.metadata()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.provider.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.provider.scopes),
                "state": login.state,
                "nonce": login.nonce,
                "code_challenge": login.challenge,
                "code_challenge_method": "S256",
            }
        )
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        return f"{meta.authorization_endpoint}{sep}{query}"

    async def exchange(self, code: str, login: LoginSecrets, redirect_uri: str) -> str:
        """The code (with the PKCE verifier) for tokens; returns the raw ID token."""
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": login.verifier,
            "client_id": self.provider.client_id,
        }
        headers = {}
        if self.provider.client_secret is not None:  # client_secret_basic, RFC 6749 §2.3.1
            basic = aiohttp.BasicAuth(self.provider.client_id, self.provider.client_secret)
            headers["Authorization"] = basic.encode()
        try:
            async with self._http.post(meta.token_endpoint, data=form, headers=headers) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise ProviderError(f"token endpoint: {err!r}") from err
        if status >= 500:
            raise ProviderError(f"token endpoint answered {status}")
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise TokenRejected("exchange", f"The identity provider refused the code ({error}).")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRejected("malformed", "The identity provider returned no ID token.")
        return id_token

    async def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """Signature (issuer's JWKS, asymmetric algorithm), issuer, audience (and `azp`),
        expiry and issue time (with leeway), and the nonce of this login."""
        meta = await self.metadata()
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as err:
            raise TokenRejected("malformed", f"The ID token is not a JWT: {err}.") from err
        alg = header.get("alg")
        if alg not in meta.algorithms:
            raise TokenRejected("signature", f"ID token algorithm {alg!r} is not accepted.")
        key = await self._key_for(header.get("kid"))
        provider = self.provider
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=[alg],
                audience=provider.client_id,
                issuer=meta.issuer,
                leeway=provider.leeway_s,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError as err:
            raise TokenRejected("signature", "The ID token signature is invalid.") from err
        except jwt.ExpiredSignatureError as err:
            raise TokenRejected("expired", "The ID token has expired.") from err
        except jwt.InvalidAudienceError as err:
            raise TokenRejected("audience", "The ID token is for another client.") from err
        except jwt.InvalidIssuerError as err:
            raise TokenRejected("issuer", "The ID token is from another issuer.") from err
        except jwt.PyJWTError as err:
            raise TokenRejected("malformed", f"The ID token is invalid: {err}.") from err
        # OIDC Core §3.1.3.7: with several audiences, we must be the authorized party.
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != provider.client_id:
            raise TokenRejected("audience", "The ID token's authorized party is another client.")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(
            token_nonce.encode(), nonce.encode()
        ):
            raise TokenRejected("nonce", "The ID token's nonce is not this sign-in's.")
        return claims
