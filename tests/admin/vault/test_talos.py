"""Talos machine configs validate, document by document, against Talos's own JSON Schema
(../shared/data/talos), and one stored bundle always yields configs of the same cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from admin.vault.talos import SecretsBundle, generate_bundle, machine_config, talosconfig

SCHEMA = Path(__file__).resolve().parents[4] / "shared" / "data" / "talos" / "config.schema.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    # The workplace lays shared/ beside the checkout (for CI too); the schema is Talos's own.
    assert SCHEMA.exists(), f"Talos's schema is expected at {SCHEMA}"
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def bundle() -> SecretsBundle:
    return generate_bundle()


def render(bundle: SecretsBundle, role: str) -> dict[str, dict[str, Any]]:
    docs = machine_config(
        bundle,
        role,
        cluster_name="rack-fra1-01",  # type: ignore[arg-type]
        endpoint="https://10.0.0.10:6443",
        cert_sans=["10.0.0.10"],
    )
    return {d.get("kind", "v1alpha1"): d for d in docs}


def pem(b64: str) -> bytes:
    return base64.b64decode(b64)


@pytest.mark.parametrize("role", ["controlplane", "worker"])
def test_every_document_validates_against_the_talos_schema(
    validator: Any, bundle: SecretsBundle, role: str
) -> None:
    docs = render(bundle, role)
    for kind, doc in docs.items():
        errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
        assert not errors, (kind, errors[:3])
    assert docs["v1alpha1"]["machine"]["type"] == role


def test_roles_share_the_cluster_and_workers_hold_no_secrets_of_the_control_plane(
    bundle: SecretsBundle,
) -> None:
    cp, worker = render(bundle, "controlplane"), render(bundle, "worker")
    assert cp["DiscoveryIdentityConfig"] == worker["DiscoveryIdentityConfig"]
    assert cp["KubeClusterConfig"] == worker["KubeClusterConfig"]
    for field in ("token",):
        assert cp["v1alpha1"]["machine"][field] == worker["v1alpha1"]["machine"][field]
        assert cp["v1alpha1"]["cluster"][field] == worker["v1alpha1"]["cluster"][field]
    assert cp["v1alpha1"]["machine"]["ca"]["crt"] == worker["v1alpha1"]["machine"]["ca"]["crt"]
    assert (
        cp["KubeAPIServerCAConfig"]["issuingCA"]["cert"]
        == worker["KubeAPIServerCAConfig"]["issuingCA"]["cert"]
    )
    assert (
        cp["v1alpha1"]["machine"]["ca"]["key"] and cp["KubeAPIServerCAConfig"]["issuingCA"]["key"]
    )
    assert worker["v1alpha1"]["machine"]["ca"]["key"] == ""
    assert "key" not in worker["KubeAPIServerCAConfig"]["issuingCA"]
    for secret in (
        "KubeServiceAccountConfig",
        "KubeEtcdEncryptionConfig",
        "KubeAggregatorCAConfig",
    ):
        assert secret in cp and secret not in worker
    assert "etcd" not in worker["v1alpha1"]["cluster"]
    # Real PKI: the Talos API CA is Ed25519, the Kubernetes CA a self-signed CA.
    os_ca = x509.load_pem_x509_certificate(pem(cp["v1alpha1"]["machine"]["ca"]["crt"]))
    assert isinstance(os_ca.public_key(), ed25519.Ed25519PublicKey)
    k8s_ca = x509.load_pem_x509_certificate(pem(cp["KubeAPIServerCAConfig"]["issuingCA"]["cert"]))
    assert k8s_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_stored_bundle_renders_the_same_cluster_again(bundle: SecretsBundle) -> None:
    stored = json.loads(json.dumps(bundle.to_dict()))  # as it comes back from storage
    assert render(SecretsBundle.from_dict(stored), "controlplane") == render(bundle, "controlplane")
    other = render(generate_bundle(), "controlplane")
    assert (
        other["DiscoveryIdentityConfig"]
        != render(bundle, "controlplane")["DiscoveryIdentityConfig"]
    )


def test_talosconfig_client_certificate_is_signed_by_the_os_ca(bundle: SecretsBundle) -> None:
    config = talosconfig(bundle, cluster_name="rack-fra1-01", endpoints=["10.0.0.10"])
    ctx = config["contexts"][config["context"]]
    ca = x509.load_pem_x509_certificate(pem(ctx["ca"]))
    client = x509.load_pem_x509_certificate(pem(ctx["crt"]))
    ca.public_key().verify(client.signature, client.tbs_certificate_bytes)  # raises if forged
    assert client.issuer == ca.subject
    assert [a.value for a in client.subject] == ["os:admin"] and ctx["endpoints"] == ["10.0.0.10"]
