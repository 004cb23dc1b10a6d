"""Binding a node's attestation key to its TPM's endorsement key before it is trusted.

The AK comes from an agent in an OS the tenant controls, so its word is worth nothing: a forged
agent can serve a key it holds in software and sign any quote. Trust comes from the TPM's
manufacturer instead (TCG credential activation, as Keylime and tpm2-tools' `makecredential`
do it):

1. The agent presents the EK certificate from its TPM's NV and the AK's public area. The
   certificate must chain to a CA the operator trusts (`VOLT_VAULT_EK_CA_BUNDLE`: the TPM
   vendors' CAs; swtpm's local CA in the lab), and the AK must be a restricted signing key
   that cannot leave its TPM (fixedTPM, fixedParent, made inside it).
2. Volt makes a credential (TPM2_MakeCredential, in software) wrapping a fresh secret to the
   certified EK's public key and bound to the AK's name, the hash of its public area.
3. Only a TPM that holds that EK's private key *and* an object with that name releases the
   secret (TPM2_ActivateCredential). The agent returns it; only then is the AK enrolled.

Pure apart from tpm2-pytss's marshalling and MakeCredential (no I/O); attest.py talks to
the agent."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tpm2_pytss import (
    TPM2_ALG,
    TPM2_ECC,
    TPM2B_PUBLIC,
    TPMA_OBJECT,
    TPMT_SYM_DEF_OBJECT,
    TSS2_Exception,
)
from tpm2_pytss import utils as tpm2_utils

# tcg-kp-EKCertificate (TCG EK Credential Profile): what an EK certificate is for.
EK_CERTIFICATE_EKU = x509.ObjectIdentifier("2.23.133.8.1")
# An AK that only signs what the TPM itself generated (quotes), never leaves the TPM and was
# made inside it: without each of these a key could sign a forged quote.
AK_REQUIRED = (
    TPMA_OBJECT.RESTRICTED
    | TPMA_OBJECT.SIGN_ENCRYPT
    | TPMA_OBJECT.FIXEDTPM
    | TPMA_OBJECT.FIXEDPARENT
    | TPMA_OBJECT.SENSITIVEDATAORIGIN
)


class EnrolmentRefused(Exception):
    """Why an attestation key is not trusted; the message is shown in the node's report."""


@dataclass(frozen=True)
class AttestationKey:
    name: bytes  # TPM2B_NAME: nameAlg || H(TPMT_PUBLIC)
    pem: bytes  # what quotes are verified with (attestation.verify)


@dataclass(frozen=True)
class Challenge:
    secret: bytes
    credential_blob: bytes  # TPM2B_ID_OBJECT, marshalled
    encrypted_secret: bytes  # TPM2B_ENCRYPTED_SECRET, marshalled

    def answered_by(self, secret: bytes) -> bool:
        return hmac.compare_digest(self.secret, secret)


def load_cas(path: Path) -> tuple[x509.Certificate, ...]:
    """The operator's EK CA bundle (PEM, any number of certificates, each a trust anchor).

    Usage: `cas = load_cas(Path("/etc/volt/ek-cas.pem"))`."""
    cas = tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    if not cas:
        raise ValueError(f"{path}: no certificates")
    return cas


# Clocks of the CA that stamped a certificate and of this verifier disagree a little.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc - CLOCK_SKEW <= now <= cert.not_valid_after_utc


def verify_ek_certificate(
    der: bytes, cas: Sequence[x509.Certificate], now: dt.datetime
) -> x509.Certificate:
    """The EK certificate, if a CA of the bundle issued it and it is an EK certificate.

    Checked by hand rather than with cryptography's RFC 5280 verifier, which rejects what TCG's
    profile requires: an empty subject (swtpm writes `CN=unknown`) with the TPM's identity in a
    critical directoryName SAN, and the EK EKU instead of a TLS one."""
    if not cas:
        raise EnrolmentRefused("no EK CA bundle is configured (VOLT_VAULT_EK_CA_BUNDLE)")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise EnrolmentRefused("the EK certificate is not a DER X.509 certificate") from None
    if not _valid_at(cert, now):
        raise EnrolmentRefused("the EK certificate is expired or not yet valid")
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if EK_CERTIFICATE_EKU not in usage:
            raise EnrolmentRefused("the certificate is not for an endorsement key (EKU)")
    except x509.ExtensionNotFound:
        pass  # older vendor certificates carry none; the issuer is what vouches
    for ca in cas:
        if ca.subject != cert.issuer or not _valid_at(ca, now):
            continue
        try:
            constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if not constraints.ca:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return cert
    raise EnrolmentRefused("the EK certificate is not issued by a CA the operator trusts")


def parse_attestation_key(ak_public: bytes) -> AttestationKey:
    """The AK's TPM2B_PUBLIC as the TPM marshalled it, if it is a key fit to sign quotes."""
    try:
        public, used = TPM2B_PUBLIC.unmarshal(ak_public)
    except (TSS2_Exception, ValueError, TypeError):
        raise EnrolmentRefused("the attestation key's public area is malformed") from None
    area = public.publicArea
    if used != len(ak_public) or area.type != TPM2_ALG.ECC or area.nameAlg != TPM2_ALG.SHA256:
        raise EnrolmentRefused("the attestation key is not an ECC key named with SHA-256")
    if area.parameters.eccDetail.curveID != TPM2_ECC.NIST_P256:
        raise EnrolmentRefused("the attestation key is not on P-256")
    attributes = int(area.objectAttributes)
    if attributes & AK_REQUIRED != AK_REQUIRED or attributes & TPMA_OBJECT.DECRYPT:
        raise EnrolmentRefused(
            "the attestation key is not a restricted signing key fixed to its TPM"
        )
    return AttestationKey(bytes(public.get_name()), public.to_pem())


def _ek_public(cert: x509.Certificate) -> TPM2B_PUBLIC:
    """The EK's public area as the TCG default RSA template makes it (SHA-256 names,
    AES-128-CFB for the credential), from the certified key."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise EnrolmentRefused("only RSA 2048 endorsement keys are supported")
    symmetric = TPMT_SYM_DEF_OBJECT(algorithm=TPM2_ALG.AES)
    symmetric.keyBits.aes = 128
    symmetric.mode.aes = TPM2_ALG.CFB
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TPM2B_PUBLIC.from_pem(pem, nameAlg=TPM2_ALG.SHA256, symmetric=symmetric)


def make_challenge(ek_certificate: x509.Certificate, ak: AttestationKey) -> Challenge:
    """A fresh secret only the TPM of this EK certificate, holding this AK, can recover."""
    secret = secrets.token_bytes(32)
    blob, encrypted = tpm2_utils.make_credential(_ek_public(ek_certificate), secret, ak.name)
    return Challenge(secret, blob.marshal(), encrypted.marshal())
