"""Attestation keys are bound to the TPM's endorsement key by credential activation, against
real swtpm TPMs manufactured with EK certificates from a local CA: a genuine TPM's AK enrols;
a forged agent serving a software key with a genuine EK certificate (even one loaded into the
real TPM), a TPM certified by a CA the operator does not trust, a self-signed EK certificate
and an AK that is not a restricted TPM-resident signing key are each refused."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from tpm2_pytss import (
    ESYS_TR,
    TPM2_ALG,
    TPM2_SE,
    TPM2B_ENCRYPTED_SECRET,
    TPM2B_ID_OBJECT,
    TPM2B_PUBLIC,
    TPMA_OBJECT,
    TPMT_SYM_DEF,
    TSS2_Exception,
)

from admin.vault import enrolment
from admin.vault.agent import EK_HANDLE, TpmAgent, agent_app
from admin.vault.attest import AgentError, enrol
from admin.vault.enrolment import EnrolmentRefused
from lab.tpm import SoftTpm, lab_tpms
from tests.conftest import serve


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def cas() -> tuple[x509.Certificate, ...]:
    return enrolment.load_cas(lab_tpms().ca.bundle)


def _agent(tmp: Path, name: str, manufactured: Path) -> Iterator[TpmAgent]:
    with SoftTpm(tmp / name, manufactured=manufactured) as soft:
        agent = TpmAgent("swtpm", soft.tcti_config)
        yield agent
        agent.close()


@pytest.fixture
def genuine(tmp_path: Path) -> Iterator[TpmAgent]:
    yield from _agent(tmp_path, "genuine", lab_tpms().nodes[0])


@pytest.fixture
def rogue(tmp_path: Path) -> Iterator[TpmAgent]:
    """A real TPM, but certified by a CA the operator never trusted (one the tenant runs)."""
    yield from _agent(tmp_path, "rogue", lab_tpms().rogue)


def activate(agent: TpmAgent, challenge: enrolment.Challenge) -> bytes:
    return agent.activate_credential(challenge.credential_blob, challenge.encrypted_secret)


def test_a_genuine_tpm_activates_the_credential(genuine: TpmAgent, cas: tuple) -> None:
    assert genuine.ek_certificate is not None
    ek = enrolment.verify_ek_certificate(genuine.ek_certificate, cas, now())
    ak = enrolment.parse_attestation_key(genuine.attestation_public())
    assert ak.pem == genuine.attestation_key()
    challenge = enrolment.make_challenge(ek, ak)
    assert challenge.answered_by(activate(genuine, challenge))


def _software_ak() -> bytes:
    """An AK public area exactly like the agent's (template, scheme, attributes), whose
    private key is in software."""
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    attrs = enrolment.AK_REQUIRED | TPMA_OBJECT.USERWITHAUTH
    public = TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256:null", objectAttributes=attrs)
    public.publicArea.unique.ecc.x = numbers.x.to_bytes(32, "big")
    public.publicArea.unique.ecc.y = numbers.y.to_bytes(32, "big")
    return bytes(public.marshal())


def test_a_software_key_with_a_genuine_ek_certificate_is_refused(
    genuine: TpmAgent, cas: tuple
) -> None:
    # The forged agent presents the node's real EK certificate and its own key: the
    # credential is bound to that key's name, which no object in the real TPM has.
    assert genuine.ek_certificate is not None
    ek = enrolment.verify_ek_certificate(genuine.ek_certificate, cas, now())
    forged = enrolment.parse_attestation_key(_software_ak())
    challenge = enrolment.make_challenge(ek, forged)
    with pytest.raises(TSS2_Exception, match="integrity"):
        activate(genuine, challenge)


def test_a_software_key_loaded_into_the_real_tpm_cannot_activate_either(
    genuine: TpmAgent, cas: tuple
) -> None:
    """The forger's next move: TPM2_LoadExternal its public key into the node's real TPM, so
    that an object of the credential's name exists there. A public-only object has no
    authorisation to give, so ActivateCredential refuses it."""
    assert genuine.ek_certificate is not None
    ek = enrolment.verify_ek_certificate(genuine.ek_certificate, cas, now())
    wire = _software_ak()
    challenge = enrolment.make_challenge(ek, enrolment.parse_attestation_key(wire))
    esapi = genuine._esapi  # the forger has the TPM (the tenant's OS); the agent's connection
    public, _ = TPM2B_PUBLIC.unmarshal(wire)
    loaded = esapi.load_external(public, None, ESYS_TR.NULL)
    session = esapi.start_auth_session(
        ESYS_TR.NONE,
        ESYS_TR.NONE,
        TPM2_SE.POLICY,
        TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL),
        TPM2_ALG.SHA256,
    )
    try:
        esapi.policy_secret(ESYS_TR.ENDORSEMENT, session, b"", b"", b"", 0)
        blob, _ = TPM2B_ID_OBJECT.unmarshal(challenge.credential_blob)
        secret, _ = TPM2B_ENCRYPTED_SECRET.unmarshal(challenge.encrypted_secret)
        with pytest.raises(TSS2_Exception, match="authValue or authPolicy is not available"):
            esapi.activate_credential(
                loaded,
                esapi.tr_from_tpmpublic(EK_HANDLE),
                blob,
                secret,
                session1=ESYS_TR.PASSWORD,
                session2=session,
            )
    finally:
        esapi.flush_context(session)
        esapi.flush_context(loaded)


def test_a_tpm_certified_by_an_untrusted_ca_is_refused(rogue: TpmAgent, cas: tuple) -> None:
    assert rogue.ek_certificate is not None
    with pytest.raises(EnrolmentRefused, match="not issued by a CA the operator trusts"):
        enrolment.verify_ek_certificate(rogue.ek_certificate, cas, now())
    # It is a real TPM that could answer the challenge: only the CA check stops it.
    ek = x509.load_der_x509_certificate(rogue.ek_certificate)
    ak = enrolment.parse_attestation_key(rogue.attestation_public())
    challenge = enrolment.make_challenge(ek, ak)
    assert challenge.answered_by(activate(rogue, challenge))


def _self_signed_ek(issuer_like: x509.Certificate) -> bytes:
    """An EK certificate a forger made for a key it holds, claiming the trusted CA's name."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unknown")]))
        .issuer_name(issuer_like.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(days=1))
        .not_valid_after(now() + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([enrolment.EK_CERTIFICATE_EKU]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_self_signed_ek_certificate_is_refused(cas: tuple) -> None:
    for issuer in cas:
        with pytest.raises(EnrolmentRefused, match="not issued by a CA the operator trusts"):
            enrolment.verify_ek_certificate(_self_signed_ek(issuer), cas, now())
    with pytest.raises(EnrolmentRefused, match="not a DER"):
        enrolment.verify_ek_certificate(b"not a certificate", cas, now())
    with pytest.raises(EnrolmentRefused, match="no EK CA bundle"):
        enrolment.verify_ek_certificate(_self_signed_ek(cas[0]), (), now())


def test_an_ak_that_could_sign_anything_or_leave_the_tpm_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for missing in (TPMA_OBJECT.RESTRICTED, TPMA_OBJECT.FIXEDTPM, TPMA_OBJECT.SENSITIVEDATAORIGIN):
        attrs = (enrolment.AK_REQUIRED | TPMA_OBJECT.USERWITHAUTH) & ~missing
        wire = bytes(TPM2B_PUBLIC.from_pem(pem, objectAttributes=attrs).marshal())
        with pytest.raises(EnrolmentRefused, match="restricted signing key"):
            enrolment.parse_attestation_key(wire)
    with pytest.raises(EnrolmentRefused, match="malformed"):
        enrolment.parse_attestation_key(b"\x00\x10garbage")


class ForgedAgent:
    """Serves its own software AK with the node's genuine EK certificate, and relays the
    credential to the node's real TPM, which is the best a forger can do."""

    def __init__(self, real: TpmAgent) -> None:
        self.real = real
        self.activations = 0

    def app(self) -> web.Application:
        app = web.Application()
        assert self.real.ek_certificate is not None
        ek = base64.b64encode(self.real.ek_certificate).decode()
        ak = base64.b64encode(_software_ak()).decode()

        async def identity(_: web.Request) -> web.Response:
            return web.json_response({"ak_public": ak, "ek_certificate": ek})

        async def activate(request: web.Request) -> web.Response:
            self.activations += 1
            body = await request.json()
            try:
                secret = self.real.activate_credential(
                    base64.b64decode(body["credential_blob"]),
                    base64.b64decode(body["encrypted_secret"]),
                )
            except TSS2_Exception:
                secret = secrets.token_bytes(32)  # a guess
            return web.json_response({"secret": base64.b64encode(secret).decode()})

        app.router.add_get("/v1/attestation-key", identity)
        app.router.add_post("/v1/activate-credential", activate)
        return app


async def test_enrolment_over_http_trusts_the_genuine_agent_and_refuses_the_forged_one(
    genuine: TpmAgent, cas: tuple
) -> None:
    forged = ForgedAgent(genuine)
    real_runner, real_url = await serve(agent_app(genuine))
    forged_runner, forged_url = await serve(forged.app())
    try:
        async with aiohttp.ClientSession() as session:
            assert await enrol(session, real_url, cas) == genuine.attestation_key()
            with pytest.raises(AgentError, match="could not activate a credential"):
                await enrol(session, forged_url, cas)
            assert forged.activations == 1
            with pytest.raises(AgentError, match="no EK CA bundle"):
                await enrol(session, real_url, ())
    finally:
        await forged_runner.cleanup()
        await real_runner.cleanup()
