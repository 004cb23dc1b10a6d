"""Talos machine configuration rendered from one secrets bundle per rack, as
`talosctl gen config --with-secrets` does: the bundle is generated once and stored, so every
download describes the same cluster. Pure: no I/O.

Talos v1.14 configs are multi-document: a slim `v1alpha1` Config (machine identity, the Talos
API CA, etcd) plus one typed document per concern (cluster identity, network, each Kubernetes
component, CAs, service-account issuer, encryption at rest). Key types follow Talos: the Talos
API (OS) CA and its admin client certificate are Ed25519; the Kubernetes, aggregator and etcd CAs
and the service-account key are ECDSA P-256.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import secrets
import string
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

TALOS_VERSION = "v1.14.0"
KUBERNETES_VERSION = "v1.34.1"
CA_YEARS = 10
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits

Role = Literal["controlplane", "worker"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    crt: str
    key: str


@dataclass(frozen=True)
class SecretsBundle:
    """Everything that makes a cluster itself; store it encrypted, never regenerate it."""

    cluster_id: str
    cluster_secret: str
    bootstrap_token: str
    secretbox_secret: str
    trustd_token: str
    os: KeyPair
    kubernetes: KeyPair
    aggregator: KeyPair
    etcd: KeyPair
    service_account_key: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SecretsBundle:
        pairs = {k: KeyPair(**data[k]) for k in ("os", "kubernetes", "aggregator", "etcd")}
        return cls(**{**data, **pairs})


def _token() -> str:
    """A Kubernetes bootstrap-token-shaped secret: `[a-z0-9]{6}.[a-z0-9]{16}`."""

    def part(n: int) -> str:
        return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(n))

    return f"{part(6)}.{part(16)}"


def _pem_key(key: PrivateKey) -> str:
    # "EC PRIVATE KEY" for ECDSA, PKCS#8 for Ed25519, as Talos writes them.
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def _certificate(
    org: str,
    key: PrivateKey,
    *,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
    years: int = CA_YEARS,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    is_ca = issuer is None
    issuer_name, signer = (name, key) if issuer is None else (issuer[0].subject, issuer[1])
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
    )
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return cert.sign(signer, algorithm)


def _ca(org: str, key: PrivateKey) -> KeyPair:
    crt = _certificate(org, key).public_bytes(serialization.Encoding.PEM).decode()
    return KeyPair(crt, _pem_key(key))


def generate_bundle() -> SecretsBundle:
    """Fresh cluster secrets: generate once per rack, then store them (encrypted)."""

    def p256() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    return SecretsBundle(
        cluster_id=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        cluster_secret=base64.b64encode(secrets.token_bytes(32)).decode(),
        bootstrap_token=_token(),
        secretbox_secret=base64.b64encode(secrets.token_bytes(32)).decode(),
        trustd_token=_token(),
        os=_ca("talos", ed25519.Ed25519PrivateKey.generate()),
        kubernetes=_ca("kubernetes", p256()),
        aggregator=_ca("", p256()),
        etcd=_ca("etcd", p256()),
        service_account_key=_pem_key(p256()),
    )


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


def _doc(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1alpha1", "kind": kind, **fields}


def machine_config(
    bundle: SecretsBundle,
    role: Role,
    *,
    cluster_name: str,
    endpoint: str,
    cert_sans: list[str],
) -> list[dict[str, Any]]:
    """The documents of one role's machine config. Workers get CA certificates but no CA keys,
    no etcd, no service-account key and no encryption secret, as `talosctl gen config` does."""
    control = role == "controlplane"
    image = "registry.k8s.io/{}:" + KUBERNETES_VERSION
    machine = {
        "type": role,
        "token": bundle.trustd_token,
        "ca": {"crt": _b64(bundle.os.crt), "key": _b64(bundle.os.key) if control else ""},
        "certSANs": cert_sans,
    }
    cluster: dict[str, Any] = {"token": bundle.bootstrap_token}
    if control:
        cluster["etcd"] = {"ca": {"crt": _b64(bundle.etcd.crt), "key": _b64(bundle.etcd.key)}}
    k8s_ca: dict[str, str] = {"cert": _b64(bundle.kubernetes.crt)}
    if control:
        k8s_ca["key"] = _b64(bundle.kubernetes.key)
    docs = [
        {"version": "v1alpha1", "debug": False, "machine": machine, "cluster": cluster},
        _doc(
            "DiscoveryIdentityConfig",
            clusterID=bundle.cluster_id,
            clusterSecret=bundle.cluster_secret,
        ),
        _doc("KubeClusterConfig", clusterName=cluster_name, endpoint=endpoint),
        _doc(
            "KubeNetworkConfig",
            dnsDomain="cluster.local",
            podSubnets=["10.244.0.0/16"],
            serviceSubnets=["10.96.0.0/12"],
        ),
        _doc("KubeAPIServerCAConfig", issuingCA=k8s_ca),
        _doc(
            "KubeletConfig",
            image=f"ghcr.io/siderolabs/kubelet:{KUBERNETES_VERSION}",
            defaultRuntimeSeccompProfileEnabled=True,
        ),
        _doc("KubeProxyConfig", image=image.format("kube-proxy")),
        _doc(
            "UnattendedInstall",
            installer={"image": f"ghcr.io/siderolabs/installer:{TALOS_VERSION}"},
        ),
    ]
    if control:
        docs += [
            _doc(
                "KubeAggregatorCAConfig",
                issuingCA={"cert": _b64(bundle.aggregator.crt), "key": _b64(bundle.aggregator.key)},
            ),
            _doc(
                "KubeServiceAccountConfig",
                issuer={
                    "privateKey": _b64(bundle.service_account_key),
                    "issuerURL": f"{endpoint.rstrip('/')}",
                },
            ),
            _doc(
                "KubeEtcdEncryptionConfig",
                config={
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "EncryptionConfiguration",
                    "resources": [
                        {
                            "resources": ["secrets"],
                            "providers": [
                                {
                                    "secretbox": {
                                        "keys": [
                                            {"name": "key1", "secret": bundle.secretbox_secret}
                                        ]
                                    }
                                },
                                {"identity": {}},
                            ],
                        }
                    ],
                },
            ),
            _doc(
                "KubeAPIServerConfig", image=image.format("kube-apiserver"), certExtraSANs=cert_sans
            ),
            _doc("KubeControllerManagerConfig", image=image.format("kube-controller-manager")),
            _doc("KubeSchedulerConfig", image=image.format("kube-scheduler")),
        ]
    return docs


def talosconfig(
    bundle: SecretsBundle, *, cluster_name: str, endpoints: list[str]
) -> dict[str, Any]:
    """A talosctl client config with an `os:admin` certificate signed by the rack's OS CA."""
    ca_cert = x509.load_pem_x509_certificate(bundle.os.crt.encode())
    ca_key = serialization.load_pem_private_key(bundle.os.key.encode(), password=None)
    assert isinstance(ca_key, ed25519.Ed25519PrivateKey)
    key = ed25519.Ed25519PrivateKey.generate()
    cert = _certificate("os:admin", key, issuer=(ca_cert, ca_key), years=1)  # as talosctl does
    return {
        "context": cluster_name,
        "contexts": {
            cluster_name: {
                "endpoints": endpoints,
                "ca": _b64(bundle.os.crt),
                "crt": _b64(cert.public_bytes(serialization.Encoding.PEM).decode()),
                "key": _b64(_pem_key(key)),
            }
        },
    }
