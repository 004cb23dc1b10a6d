"""sushy-tools' Redfish emulator (fake driver, real basic auth) as a lab BMC, with an
AccountService in front of it (lab/account_service.py): `url` is the BMC as a client sees it,
`emulator_url` the emulator alone. Its systems are simulated: they power on and off and take
boot settings, and boot nothing."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import bcrypt

from lab.account_service import Accounts, AccountService
from lab.ports import free_port


def _mac(system: str) -> str:
    """Locally administered, from the system's UUID: unique across a lab's BMCs."""
    digits = system.replace("-", "")
    return "02:" + ":".join(digits[i : i + 2] for i in range(0, 10, 2))


class RedfishEmulator:
    """Usage: `with RedfishEmulator(tmp, nodes=2) as bmc: bmc.url, bmc.systems`; or with the
    `systems` (UUIDs) a restarted lab had before. The fake driver lands a power change 1-11 s
    after it is asked for, as a real BMC takes its time. The accounts made on the BMC are kept
    in `workdir`, so a restart (with the same admin login) keeps them. Without a `password`
    the admin gets a random one."""

    def __init__(
        self,
        workdir: Path,
        *,
        nodes: int = 0,
        systems: Sequence[str] = (),
        username: str = "admin",
        password: str | None = None,
    ) -> None:
        self.dir = workdir
        self.port = free_port()
        self.emulator_port = free_port()
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.systems = list(systems) or [str(uuid.uuid4()) for _ in range(nodes)]
        self._proc: subprocess.Popen[bytes] | None = None
        self._accounts: AccountService | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def accounts(self) -> Accounts:
        """The AccountService's accounts (started), e.g. to slow its creates down."""
        assert self._accounts is not None
        return self._accounts.accounts

    @property
    def htpasswd(self) -> Path:
        return self.dir / "htpasswd"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.htpasswd.exists():  # a restart keeps the accounts made meanwhile
            hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(4)).decode()
            self.htpasswd.write_text(f"{self.username}:{hashed}\n")
        systems = [
            {
                "uuid": s,
                "name": f"node{i}",
                "power_state": "Off",
                "nics": [{"mac": _mac(s)}],
            }
            for i, s in enumerate(self.systems)
        ]
        (self.dir / "emulator.py").write_text(
            f"SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n"
            f"SUSHY_EMULATOR_LISTEN_PORT = {self.emulator_port}\n"
            "SUSHY_EMULATOR_FAKE_DRIVER = True\n"
            f"SUSHY_EMULATOR_AUTH_FILE = {str(self.htpasswd)!r}\n"
            f"SUSHY_EMULATOR_STATE_DIR = {str(self.dir / 'state')!r}\n"
            f"SUSHY_EMULATOR_FAKE_SYSTEMS = {systems!r}\n"
        )
        emulator = Path(sys.executable).with_name("sushy-emulator")
        with (self.dir / "emulator.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [str(emulator), "--config", str(self.dir / "emulator.py")],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.emulator_port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("sushy-emulator did not start") from None
                time.sleep(0.05)
        if self._accounts is None:
            self._accounts = AccountService(
                Accounts(self.htpasswd, self.username), ("127.0.0.1", self.emulator_port), self.port
            )
        self._accounts.start()

    def stop(self) -> None:
        """The whole BMC goes away: the AccountService front and the emulator."""
        if self._accounts is not None:
            self._accounts.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> RedfishEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
