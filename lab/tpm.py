"""swtpm, the software TPM, for the lab's nodes (see ../shared/recipes/vault-peers.md): a local
CA that manufactures TPMs with endorsement-key certificates, the TPM process itself, and what a
lab node's firmware measures on a good boot."""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lab.ports import free_port

# What a node's firmware and bootloader measure on a good boot (PCR, data, description).
BOOT = [
    (0, b"UEFI firmware 1.4.2", "firmware"),
    (2, b"option ROM nic0", "option ROM"),
    (4, b"systemd-boot 255", "bootloader"),
    (4, b"talos vmlinuz v1.14.0", "kernel"),
    (7, b"secure boot: enabled", "secure boot policy"),
]


def reference_values() -> dict[int, set[str]]:
    """The digests a good boot measures, per PCR: what a rack is built with."""
    ref: dict[int, set[str]] = {}
    for pcr, data, _ in BOOT:
        ref.setdefault(pcr, set()).add(hashlib.sha256(data).hexdigest())
    return ref


class EkCa:
    """A TPM manufacturer: swtpm's local CA (root and intermediate, made on first use) issuing
    EK certificates into the TPM states it manufactures (see ../shared/recipes/peers-wave2.md).

    Usage: `ca = EkCa(tmp / "ca")`; `ca.manufacture(tmp / "state")`; trust `ca.bundle`."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "localca.conf").write_text(
            f"statedir = {self.dir}\n"
            f"signingkey = {self.dir}/signkey.pem\n"
            f"issuercert = {self.dir}/issuercert.pem\n"
            f"certserial = {self.dir}/certserial\n"
        )
        (self.dir / "localca.options").write_text(
            "--platform-manufacturer Volt\n--platform-version 2.1\n--platform-model lab\n"
        )
        # Without --config swtpm_setup falls back to /etc and /var/lib/swtpm-localca.
        (self.dir / "swtpm_setup.conf").write_text(
            "create_certs_tool = /usr/bin/swtpm_localca\n"
            f"create_certs_tool_config = {self.dir}/localca.conf\n"
            f"create_certs_tool_options = {self.dir}/localca.options\n"
            "active_pcr_banks = sha256\n"
        )

    @property
    def bundle(self) -> Path:
        """The root and the issuing intermediate, as an operator would configure them."""
        path = self.dir / "bundle.pem"
        if not path.exists():
            root = (self.dir / "swtpm-localca-rootca-cert.pem").read_bytes()
            path.write_bytes(root + (self.dir / "issuercert.pem").read_bytes())
        return path

    def manufacture(self, state: Path) -> None:
        """A TPM state with an RSA 2048 EK (persistent at 0x81010001) and its certificate at
        NV 0x01c00002 (and an ECC one), about a second."""
        if shutil.which("swtpm_setup") is None:
            raise RuntimeError("swtpm-tools is not installed (scripts/system-packages.sh)")
        state.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "swtpm_setup",
                "--tpm2",
                "--tpmstate",
                str(state),
                "--config",
                str(self.dir / "swtpm_setup.conf"),
                "--create-ek-cert",
                "--create-platform-cert",
                "--lock-nvram",
                "--overwrite",
                "--pcr-banks",
                "sha256",
            ],
            check=True,
            capture_output=True,
        )


@dataclass(frozen=True)
class LabTpms:
    """Manufactured TPM states to copy from (`SoftTpm(dir, manufactured=...)`): `nodes` by the
    operator's trusted `ca`, `rogue` by another CA (a TPM the tenant brought)."""

    ca: EkCa
    nodes: tuple[Path, ...]
    rogue: Path


@functools.cache
def lab_tpms(count: int = 3) -> LabTpms:
    """Once per process (manufacturing takes about a second a TPM), for labs that may share
    TPMs (the tests': each copies); removed when the process exits."""
    root = Path(tempfile.mkdtemp(prefix="volt-tpms-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    ca = EkCa(root / "ca")
    nodes = []
    for i in range(count):
        ca.manufacture(root / f"node{i}")
        nodes.append(root / f"node{i}")
    EkCa(root / "rogue-ca").manufacture(root / "rogue")
    return LabTpms(ca, tuple(nodes), root / "rogue")


class SoftTpm:
    """Usage: `with SoftTpm(tmp) as tpm: TpmAgent("swtpm", tpm.tcti_config)`; with
    `manufactured=lab_tpms().nodes[0]` it starts as a copy of that TPM (EK and certificate)."""

    def __init__(self, state_dir: Path, *, manufactured: Path | None = None) -> None:
        if shutil.which("swtpm") is None:
            raise RuntimeError("swtpm is not installed (scripts/system-packages.sh installs it)")
        if manufactured is not None and not state_dir.exists():
            shutil.copytree(manufactured, state_dir)
        self.state = state_dir
        self.port = free_port(span=2)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def tcti_config(self) -> str:
        return f"host=127.0.0.1,port={self.port}"

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        server = f"type=tcp,port={self.port},bindaddr=127.0.0.1"
        ctrl = f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1"
        self._proc = subprocess.Popen(
            [
                "swtpm",
                "socket",
                "--tpm2",
                "--tpmstate",
                f"dir={self.state}",
                "--server",
                server,
                "--ctrl",
                ctrl,
                "--flags",
                "not-need-init,startup-clear",
            ]
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("swtpm did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> SoftTpm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
