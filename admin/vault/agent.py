"""The attestation agent's TPM side, run on each node of a rack: it measures boot components
into PCRs (keeping the event log), holds an attestation key under the endorsement hierarchy and
answers challenges with quotes. Talks to the TPM through tpm2-pytss (swtpm in tests)."""

from __future__ import annotations

import hashlib
from typing import Any

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
