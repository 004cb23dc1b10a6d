"""A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager), started
from the binaries that scripts/kubernetes.sh builds and caches (../shared/recipes/kubernetes.md):
Forge's tests drive one, and so does the embedded default's lab (lab/forge.py). No scheduler or
kubelet: Node objects are created through the API, pods stay Pending."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.ports import free_ports

REPO = Path(__file__).resolve().parents[1]


def build_or_locate(on_progress: Callable[[str], None] | None = None) -> Path:
    """Runs scripts/kubernetes.sh (a cold build takes ~10 minutes) and returns the bin dir, the
    last line of its stdout. Its progress goes to stderr, left attached to the terminal, or
    line by line to `on_progress`."""
    script = [str(REPO / "scripts" / "kubernetes.sh")]
    if on_progress is None:
        out = subprocess.run(script, stdout=subprocess.PIPE, text=True, check=True).stdout
        return Path(out.strip().splitlines()[-1])
    with subprocess.Popen(
        script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        for line in proc.stderr:
            on_progress(line.rstrip())
        out = proc.stdout.read()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, script)
    return Path(out.strip().splitlines()[-1])


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _issue(
    d: Path,
    stem: str,
    cn: str,
    ca: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    org: str | None = None,
    eku: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Writes d/STEM.crt and d/STEM.key: a self-signed CA when `ca` is None, else a leaf that
    `ca` signs. The apiserver maps O (`org`) to the user's groups."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        names.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    subject, is_ca = x509.Name(names), ca is None
    issuer, signer = (ca[0].subject, ca[1]) if ca else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + datetime.timedelta(days=365))  # a persistent lab lives on
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=not is_ca,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = b.sign(signer, hashes.SHA256())
    (d / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{stem}.key").write_bytes(_pem(key))
    (d / f"{stem}.key").chmod(0o600)
    return cert, key


class KubeCluster:
    """One control plane in `workdir`: PKI, etcd data, kubeconfig and a log file per process.

    `persistent` (the lab): a restart on the same directory keeps its ports, its CA and its
    service-account signing key, so that the cluster's data, and kubeconfigs minted before,
    stay valid; tests start fresh every time."""

    def __init__(self, bin_dir: Path, workdir: Path, *, persistent: bool = False) -> None:
        self.bin_dir = bin_dir
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.persistent = persistent
        self.etcd_port, self.peer_port, self.api_port = self._ports()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    def _ports(self) -> list[int]:
        saved = self.dir / "ports.json"
        if self.persistent and saved.exists():
            ports: list[int] = json.loads(saved.read_text())
            return ports  # etcd keeps its peer URL in its data: the same ports must follow
        ports = free_ports(3)
        if self.persistent:
            saved.write_text(json.dumps(ports))
        return ports

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca_pem(self) -> bytes:
        return (self.dir / "ca.crt").read_bytes()

    @property
    def admin_kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    def __enter__(self) -> KubeCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._pki()
            etcd = shutil.which("etcd")
            if etcd is None:
                raise RuntimeError("etcd not on PATH (scripts/kubernetes.sh installs etcd-server)")
            etcd_url, peer_url = (f"http://127.0.0.1:{p}" for p in (self.etcd_port, self.peer_port))
            # etcd 3.4 has no readiness probe we need: the apiserver retries until it connects.
            self._spawn(
                "etcd",
                [
                    etcd,
                    "--name=default",
                    f"--data-dir={self.dir / 'etcd'}",
                    "--unsafe-no-fsync",  # test data: durability is not worth the fsync latency
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=default={peer_url}",
                ],
            )
            self.start_apiserver()
            self._kubeconfig()
            d = self.dir
            self._spawn(
                "kube-controller-manager",
                [
                    str(self.bin_dir / "kube-controller-manager"),
                    f"--kubeconfig={self.admin_kubeconfig}",
                    # Without these, quota status stays empty, namespaces never finish deleting
                    # and pods are refused for want of a service-account token secret.
                    # Deployments make ReplicaSets make pods: the path through which a tenant's
                    # pods are created by a controller rather than by the tenant.
                    "--controllers=namespace,resourcequota,serviceaccount,serviceaccount-token,"
                    "garbagecollector,deployment,replicaset",
                    # Each controller acts as its own service account: on the admin
                    # certificate (system:masters) it could use every PodSecurityPolicy, so a
                    # tenant's Deployment would get pods the tenant may not create.
                    "--use-service-account-credentials=true",
                    "--leader-elect=false",
                    f"--root-ca-file={d / 'ca.crt'}",
                    f"--service-account-private-key-file={d / 'sa.key'}",
                    # 1.20 serves on fixed ports 10252/10257 by default: two clusters would clash.
                    "--port=0",
                    "--secure-port=0",
                ],
            )
        except BaseException:
            self.stop()
            raise

    def start_apiserver(self) -> None:
        d = self.dir
        self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                "--bind-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                "--insecure-port=0",
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--cert-dir={d / 'apiserver-certs'}",  # default /var/run/kubernetes is shared
                f"--tls-cert-file={d / 'apiserver.crt'}",
                f"--tls-private-key-file={d / 'apiserver.key'}",
                f"--client-ca-file={d / 'ca.crt'}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={d / 'sa.pub'}",
                f"--service-account-signing-key-file={d / 'sa.key'}",
                "--api-audiences=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/24",
                # LimitRanger applies a lease namespace's default requests; PodNodeSelector
                # pins its pods to the placed nodes (the namespace's node-selector annotation);
                # PodSecurityPolicy is 1.20's pod security (no Pod Security Admission yet).
                # Webhooks are on by default.
                "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,"
                "PodNodeSelector,ResourceQuota,PodSecurityPolicy",
                # Otherwise validation refuses privileged pods before PodSecurityPolicy sees
                # them; a real cluster allows them (its system pods need it).
                "--allow-privileged=true",
                "--anonymous-auth=false",
            ],
        )
        self._wait_ready()

    def stop_apiserver(self) -> None:
        """Makes the API server unreachable; etcd keeps the data for start_apiserver()."""
        # It closes its listener at once on SIGTERM but then waits for the controller-manager's
        # watches to end (up to a minute): no need to wait for that here.
        self._terminate("kube-apiserver", grace=1)

    def stop(self) -> None:
        # Reverse start order, so that clients go before the servers they would retry against.
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            self._terminate(name)

    def _spawn(self, name: str, argv: list[str]) -> None:
        # Appending: a restarted apiserver keeps its earlier log.
        log = self._logs[name] = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115
        self._procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def _terminate(self, name: str, grace: float = 15) -> None:
        proc = self._procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))
        ctx.load_cert_chain(self.dir / "admin.crt", self.dir / "admin.key")
        return ctx

    def _wait_ready(self, timeout: float = 60) -> None:
        proc, ctx = self._procs["kube-apiserver"], self._ssl()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"kube-apiserver exited; see {self.dir / 'kube-apiserver.log'}")
            url = f"{self.server}/readyz"  # always https, built here
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 500 while post-start hooks run
            time.sleep(0.2)
        raise TimeoutError(f"kube-apiserver not ready after {timeout}s; see its log in {self.dir}")

    def _pki(self) -> None:
        d = self.dir
        if self.persistent and (d / "sa.pub").exists():
            return
        ca = _issue(d, "ca", "volt-ca", None)
        san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        _issue(d, "apiserver", "kube-apiserver", ca, eku=ExtendedKeyUsageOID.SERVER_AUTH, san=san)
        # system:masters bypasses RBAC.
        _issue(d, "admin", "admin", ca, org="system:masters", eku=ExtendedKeyUsageOID.CLIENT_AUTH)
        # The service-account token signing pair.
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (d / "sa.key").write_bytes(_pem(sa))
        (d / "sa.key").chmod(0o600)
        pub = sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (d / "sa.pub").write_bytes(pub)

    def _kubeconfig(self) -> None:
        # Credentials embedded, so the file works on its own (and after the workdir moves).
        def b64(name: str) -> str:
            return base64.b64encode((self.dir / name).read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "volt",
                    "cluster": {"server": self.server, "certificate-authority-data": b64("ca.crt")},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64("admin.crt"),
                        "client-key-data": b64("admin.key"),
                    },
                }
            ],
            "contexts": [{"name": "admin", "context": {"cluster": "volt", "user": "admin"}}],
            "current-context": "admin",
        }
        self.admin_kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
