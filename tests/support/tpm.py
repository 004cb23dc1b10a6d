"""swtpm, the software TPM, as a peer for tests (see ../shared/recipes/vault-peers.md)."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.ports import free_port

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


class SoftTpm:
    """Usage: `with SoftTpm(tmp) as tpm: TpmAgent("swtpm", tpm.tcti_config)`."""

    def __init__(self, state_dir: Path) -> None:
        if shutil.which("swtpm") is None:
            raise RuntimeError("swtpm is not installed (scripts/system-packages.sh installs it)")
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
