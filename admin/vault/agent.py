"""The attestation agent's TPM side, run on each node of a rack: it measures boot components
into PCRs (keeping the event log), holds an attestation key under the endorsement hierarchy and
answers challenges with quotes. Talks to the TPM through tpm2-pytss (swtpm in tests)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tpm2_pytss import (
    ESAPI,
    ESYS_TR,
    TPM2_ALG,
    TPM2B_DATA,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMA_OBJECT,
    TPML_PCR_SELECTION,
    TPMT_SIG_SCHEME,
    TCTILdr,
)

from admin.vault.attestation import BOOT_PCRS, Event, Quote

_AK_ATTRIBUTES = (
    TPMA_OBJECT.RESTRICTED
    | TPMA_OBJECT.SIGN_ENCRYPT
    | TPMA_OBJECT.FIXEDTPM
    | TPMA_OBJECT.FIXEDPARENT
    | TPMA_OBJECT.SENSITIVEDATAORIGIN
    | TPMA_OBJECT.USERWITHAUTH
)
_PCR_INDEX = {i: getattr(ESYS_TR, f"PCR{i}") for i in range(24)}


class TpmAgent:
    """Usage: `agent = TpmAgent("swtpm", "host=127.0.0.1,port=2321")`; `agent.measure(0, data,
    "firmware")`; `pem = agent.attestation_key()`; `quote = agent.quote(nonce)`."""

    def __init__(self, tcti: str, config: str) -> None:
        self._esapi = ESAPI(TCTILdr(tcti, config))
        self.events: list[Event] = []
        # A restricted ECDSA signing key: it only signs TPM-generated structures such as quotes.
        template = TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256:null", objectAttributes=_AK_ATTRIBUTES)
        self._ak, public, *_ = self._esapi.create_primary(
            TPM2B_SENSITIVE_CREATE(), template, ESYS_TR.ENDORSEMENT
        )
        ecc = public.publicArea.unique.ecc
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(bytes(ecc.x), "big"), int.from_bytes(bytes(ecc.y), "big"), ec.SECP256R1()
        )
        self._ak_pem = numbers.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def close(self) -> None:
        self._esapi.flush_context(self._ak)
        self._esapi.close()

    def attestation_key(self) -> bytes:
        """The AK's public key (PEM), enrolled with the control plane at provisioning."""
        return self._ak_pem

    def measure(self, pcr: int, data: bytes, description: str) -> None:
        self._esapi.pcr_event(_PCR_INDEX[pcr], data)
        self.events.append(Event(pcr, hashlib.sha256(data).hexdigest(), description))

    def quote(self, nonce: bytes) -> Quote:
        selection = TPML_PCR_SELECTION.parse("sha256:" + ",".join(map(str, BOOT_PCRS)))
        quoted, signature = self._esapi.quote(
            self._ak, selection, TPM2B_DATA(nonce), TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL)
        )
        sig: Any = signature.signature.ecdsa
        return Quote(
            bytes(quoted.attestationData),
            bytes(sig.signatureR),
            bytes(sig.signatureS),
            list(self.events),
        )


def quote_json(quote: Quote) -> dict[str, Any]:
    """The wire form of a quote (what `attest.challenge` reads back)."""
    return {
        "message": base64.b64encode(quote.attest).decode(),
        "signature": base64.b64encode(quote.signature_r + quote.signature_s).decode(),
        "event_log": [dataclasses.asdict(e) for e in quote.events],
    }


def agent_app(agent: TpmAgent) -> web.Application:
    """The node agent's HTTP API: `GET /v1/attestation-key` (PEM) for enrolment and
    `POST /v1/quote` `{"nonce": hex}` for a challenge. Usage: `web.run_app(agent_app(agent))`.
    In production it listens on the rack's management network behind mutual TLS."""
    app = web.Application()
    lock = asyncio.Lock()  # one TPM command sequence at a time

    async def attestation_key(request: web.Request) -> web.Response:
        return web.Response(body=agent.attestation_key(), content_type="application/x-pem-file")

    async def quote(request: web.Request) -> web.Response:
        try:
            nonce = bytes.fromhex((await request.json())["nonce"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest(text="nonce: hex string expected") from None
        if not 8 <= len(nonce) <= 64:  # TPM2B_DATA holds at most a digest's worth
            raise web.HTTPBadRequest(text="nonce: 8 to 64 bytes")
        async with lock:
            result = await asyncio.to_thread(agent.quote, nonce)
        return web.json_response(quote_json(result))

    app.router.add_get("/v1/attestation-key", attestation_key)
    app.router.add_post("/v1/quote", quote)
    return app
