"""The attestation agent's TPM side, run on each node of a rack: it measures boot components
into PCRs (keeping the event log), holds an attestation key under the endorsement hierarchy,
proves that key lives in the TPM of its endorsement-key certificate (TPM2_ActivateCredential,
see admin/vault/enrolment.py) and answers challenges with quotes. Talks to the TPM through
tpm2-pytss (swtpm in tests)."""

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
    TPM2_SE,
    TPM2B_DATA,
    TPM2B_ENCRYPTED_SECRET,
    TPM2B_ID_OBJECT,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE_CREATE,
    TPMA_OBJECT,
    TPML_PCR_SELECTION,
    TPMT_SIG_SCHEME,
    TPMT_SYM_DEF,
    TCTILdr,
    TSS2_Exception,
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
# TCG EK Credential Profile: the RSA 2048 EK certificate's NV index and the EK's persistent
# handle (where swtpm_setup and TPM vendors put them).
EK_CERT_NV_INDEX = 0x01C00002
EK_HANDLE = 0x81010001


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
        self._ak_public: bytes = public.marshal()
        self.ek_certificate = self._read_ek_certificate()

    def _read_ek_certificate(self) -> bytes | None:
        """The EK certificate (DER) the manufacturer wrote into NV; None on a TPM without."""
        try:
            index = self._esapi.tr_from_tpmpublic(EK_CERT_NV_INDEX)
            public, _ = self._esapi.nv_read_public(index)
            size, data = public.nvPublic.dataSize, b""
            while len(data) < size:  # NV reads are bounded by the TPM's buffer (1 KiB here)
                chunk = min(1024, size - len(data))
                data += bytes(self._esapi.nv_read(index, chunk, len(data), auth_handle=index))
            return data
        except TSS2_Exception:
            return None

    def close(self) -> None:
        self._esapi.flush_context(self._ak)
        self._esapi.close()

    def attestation_key(self) -> bytes:
        """The AK's public key (PEM), enrolled with the control plane at provisioning."""
        return self._ak_pem

    def attestation_public(self) -> bytes:
        """The AK's TPM2B_PUBLIC as the TPM marshals it: its name (what a credential is bound
        to) is the hash of this, attributes included."""
        return self._ak_public

    def activate_credential(self, credential_blob: bytes, encrypted_secret: bytes) -> bytes:
        """TPM2_ActivateCredential with the AK and the EK: the TPM releases the secret only if
        it holds the EK's private key and an object of the name the credential was made for.
        Raises TSS2_Exception otherwise."""
        blob, _ = TPM2B_ID_OBJECT.unmarshal(credential_blob)
        secret, _ = TPM2B_ENCRYPTED_SECRET.unmarshal(encrypted_secret)
        ek = self._esapi.tr_from_tpmpublic(EK_HANDLE)
        # The EK's policy (TCG default template): PolicySecret on the endorsement hierarchy.
        session = self._esapi.start_auth_session(
            ESYS_TR.NONE,
            ESYS_TR.NONE,
            TPM2_SE.POLICY,
            TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL),
            TPM2_ALG.SHA256,
        )
        try:
            self._esapi.policy_secret(ESYS_TR.ENDORSEMENT, session, b"", b"", b"", 0)
            released = self._esapi.activate_credential(
                self._ak, ek, blob, secret, session1=ESYS_TR.PASSWORD, session2=session
            )
        finally:
            self._esapi.flush_context(session)
        return bytes(released)

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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def agent_app(agent: TpmAgent) -> web.Application:
    """The node agent's HTTP API, for enrolment `GET /v1/attestation-key` (`ak_public`, the
    AK's TPM2B_PUBLIC, and `ek_certificate`, DER, both base64) and `POST
    /v1/activate-credential` (`credential_blob`, `encrypted_secret` -> `secret`), and `POST
    /v1/quote` `{"nonce": hex}` for a challenge. Usage: `web.run_app(agent_app(agent))`. In
    production it listens on the rack's management network behind mutual TLS."""
    app = web.Application()
    lock = asyncio.Lock()  # one TPM command sequence at a time

    async def attestation_key(request: web.Request) -> web.Response:
        ek = agent.ek_certificate
        return web.json_response(
            {
                "ak_public": _b64(agent.attestation_public()),
                "ek_certificate": None if ek is None else _b64(ek),
            }
        )

    async def activate(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            blob = base64.b64decode(body["credential_blob"], validate=True)
            secret = base64.b64decode(body["encrypted_secret"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest(text="credential_blob, encrypted_secret: base64") from None
        try:
            async with lock:
                released = await asyncio.to_thread(agent.activate_credential, blob, secret)
        except TSS2_Exception as err:
            raise web.HTTPUnprocessableEntity(text=f"the TPM refused: {err}") from None
        return web.json_response({"secret": _b64(released)})

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
    app.router.add_post("/v1/activate-credential", activate)
    app.router.add_post("/v1/quote", quote)
    return app
