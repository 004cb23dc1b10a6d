"""Attestation against a software TPM (swtpm through tpm2-pytss): a good node passes; a
tampered event log, a replayed old nonce, a wrong attestation key and an unexpected measurement
each fail with the reason named."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from admin.vault.agent import TpmAgent
from admin.vault.attestation import Event, Quote, parse_quote, verify
from lab.tpm import BOOT, SoftTpm, reference_values


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[TpmAgent]:
    with SoftTpm(tmp_path / "tpm") as soft:
        tpm = TpmAgent("swtpm", soft.tcti_config)
        for pcr, data, what in BOOT:
            tpm.measure(pcr, data, what)
        yield tpm
        tpm.close()


def failed(report: object) -> dict[str, str]:
    return {k: v["reason"] for k, v in report.checks.items() if not v["ok"]}  # type: ignore[attr-defined]


def test_a_good_node_passes(agent: TpmAgent) -> None:
    nonce = secrets.token_bytes(32)
    quote = agent.quote(nonce)
    info = parse_quote(quote.attest)
    assert info.extra_data == nonce and info.pcrs == tuple(range(8))
    report = verify(
        quote, ak_public_pem=agent.attestation_key(), nonce=nonce, reference=reference_values()
    )
    assert report.ok, report.checks
    assert set(report.checks) == {"signature", "nonce", "event_log", "measurements"}


def test_a_tampered_event_log_fails(agent: TpmAgent) -> None:
    nonce = secrets.token_bytes(32)
    quote = agent.quote(nonce)
    # Claim the kernel was another known-good component: the log no longer replays to the quote.
    kernel = next(e for e in quote.events if e.description == "kernel")
    other = next(d for d in reference_values()[4] if d != kernel.digest)
    events = [dataclasses.replace(e, digest=other) if e is kernel else e for e in quote.events]
    forged = dataclasses.replace(quote, events=events)
    report = verify(
        forged, ak_public_pem=agent.attestation_key(), nonce=nonce, reference=reference_values()
    )
    assert failed(report) == {
        "event_log": "replaying the event log does not reproduce the quoted PCRs"
    }


def test_a_replayed_old_nonce_fails(agent: TpmAgent) -> None:
    old = agent.quote(secrets.token_bytes(32))
    fresh_nonce = secrets.token_bytes(32)
    report = verify(
        old, ak_public_pem=agent.attestation_key(), nonce=fresh_nonce, reference=reference_values()
    )
    assert list(failed(report)) == ["nonce"]
    assert "replayed" in failed(report)["nonce"]


def test_a_wrong_attestation_key_fails(agent: TpmAgent) -> None:
    nonce = secrets.token_bytes(32)
    quote = agent.quote(nonce)
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    report = verify(quote, ak_public_pem=other, nonce=nonce, reference=reference_values())
    assert list(failed(report)) == ["signature"]


def test_an_unexpected_measurement_fails(agent: TpmAgent) -> None:
    agent.measure(4, b"rootkit.efi", "unsigned EFI binary")
    nonce = secrets.token_bytes(32)
    report = verify(
        agent.quote(nonce),
        ak_public_pem=agent.attestation_key(),
        nonce=nonce,
        reference=reference_values(),
    )
    reasons = failed(report)
    assert list(reasons) == ["measurements"]
    assert "PCR4 unsigned EFI binary" in reasons["measurements"]


def test_a_tampered_quote_byte_fails_the_signature(agent: TpmAgent) -> None:
    nonce = secrets.token_bytes(32)
    quote = agent.quote(nonce)
    attest = bytearray(quote.attest)
    attest[-1] ^= 1  # the PCR digest
    report = verify(
        Quote(bytes(attest), quote.signature_r, quote.signature_s, quote.events),
        ak_public_pem=agent.attestation_key(),
        nonce=nonce,
        reference=reference_values(),
    )
    assert "signature" in failed(report) and "event_log" in failed(report)


def test_events_keep_their_order(agent: TpmAgent) -> None:
    assert [e.description for e in agent.events] == [d for _, _, d in BOOT]
    assert all(isinstance(e, Event) for e in agent.events)
