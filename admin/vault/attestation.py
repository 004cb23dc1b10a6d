"""Measured-boot attestation, verifier side (Keylime's checks): a TPM quote over the boot PCRs
is trusted only if (1) its signature verifies with the node's enrolled attestation key, (2) it
carries the fresh nonce we asked for, (3) replaying the event log reproduces the quoted PCRs and
(4) every replayed measurement is one of the rack's reference values. Pure: bytes in, verdicts
out; the agent on the node talks to the TPM.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

TPM_GENERATED = 0xFF544347
ST_ATTEST_QUOTE = 0x8018
ALG_SHA256 = 0x000B
BOOT_PCRS = tuple(range(8))


@dataclass(frozen=True)
class Event:
    """One measurement the node made: what was extended into which PCR."""

    pcr: int
    digest: str  # sha256, hex
    description: str


@dataclass(frozen=True)
class Quote:
    """What the agent returns for a challenge."""

    attest: bytes  # TPMS_ATTEST as the TPM signed it
    signature_r: bytes
    signature_s: bytes
    events: Sequence[Event]


@dataclass(frozen=True)
class QuoteInfo:
    extra_data: bytes
    pcrs: tuple[int, ...]
    pcr_digest: bytes


@dataclass
class Report:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def record(self, name: str, ok: bool, reason: str | None = None) -> None:
        self.checks[name] = {"ok": ok, "reason": None if ok else reason}


class MalformedQuote(ValueError):
    pass


def _sized(buf: bytes, at: int) -> tuple[bytes, int]:
    (size,) = struct.unpack_from(">H", buf, at)
    return buf[at + 2 : at + 2 + size], at + 2 + size


def parse_quote(attest: bytes) -> QuoteInfo:
    """TPMS_ATTEST of type quote: magic, type, signer name, extraData (our nonce), clock info,
    firmware version, then the PCR selection and the digest of the selected PCRs."""
    try:
        magic, kind = struct.unpack_from(">IH", attest, 0)
        if magic != TPM_GENERATED or kind != ST_ATTEST_QUOTE:
            raise MalformedQuote("not a TPM-generated quote")
        _, at = _sized(attest, 6)  # qualifiedSigner
        extra, at = _sized(attest, at)
        at += 17 + 8  # TPMS_CLOCK_INFO, firmwareVersion
        (count,) = struct.unpack_from(">I", attest, at)
        at += 4
        pcrs: list[int] = []
        for _ in range(count):
            alg, size = struct.unpack_from(">HB", attest, at)
            bitmap = attest[at + 3 : at + 3 + size]
            at += 3 + size
            if alg == ALG_SHA256:
                pcrs += [i for i in range(size * 8) if bitmap[i // 8] >> (i % 8) & 1]
        digest, _ = _sized(attest, at)
    except struct.error as err:
        raise MalformedQuote(f"truncated quote: {err}") from None
    return QuoteInfo(extra, tuple(pcrs), digest)


def replay(events: Sequence[Event], pcrs: Sequence[int] = BOOT_PCRS) -> dict[int, bytes]:
    """PCR values the event log implies: each starts at zero and is extended in order."""
    values = {i: bytes(32) for i in pcrs}
    for event in events:
        if event.pcr in values:
            values[event.pcr] = hashlib.sha256(
                values[event.pcr] + bytes.fromhex(event.digest)
            ).digest()
    return values


def verify(
    quote: Quote,
    *,
    ak_public_pem: bytes,
    nonce: bytes,
    reference: Mapping[int, set[str]],
) -> Report:
    """Every check runs, so the report names each failure, not only the first."""
    report = Report()
    try:
        info = parse_quote(quote.attest)
    except MalformedQuote as err:
        report.record("quote", False, str(err))
        return report
    key = serialization.load_pem_public_key(ak_public_pem)
    try:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        der = encode_dss_signature(
            int.from_bytes(quote.signature_r, "big"), int.from_bytes(quote.signature_s, "big")
        )
        key.verify(der, quote.attest, ec.ECDSA(hashes.SHA256()))
        report.record("signature", True)
    except InvalidSignature:
        report.record("signature", False, "the quote is not signed by this node's attestation key")
    report.record(
        "nonce",
        info.extra_data == nonce,
        "the quote does not carry the nonce of this challenge (stale or replayed)",
    )
    values = replay(quote.events, info.pcrs)
    replayed = hashlib.sha256(b"".join(values[i] for i in info.pcrs)).digest()
    report.record(
        "event_log",
        replayed == info.pcr_digest,
        "replaying the event log does not reproduce the quoted PCRs",
    )
    unexpected = [e for e in quote.events if e.digest not in reference.get(e.pcr, set())]
    report.record(
        "measurements",
        not unexpected,
        "unexpected measurements: "
        + ", ".join(f"PCR{e.pcr} {e.description} ({e.digest[:16]}...)" for e in unexpected),
    )
    return report
