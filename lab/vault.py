"""The Vault lab: simulated racks for the embedded default and the tests. Per rack one Redfish
BMC (sushy-tools' emulator behind the AccountService, lab/redfish.py) serving its nodes'
systems; per node one swtpm whose EK certificate the lab's own CA issued (lab/tpm.py) and one
attestation agent (admin/vault/agent.py) that measured a good boot into it; and the inventory
file that describes them to Vault, reference values included.

Everything it must remember lives in its directory, so that a restart is the same lab: the
manifest (rack names, system UUIDs, BMC logins), the CA, the TPM states (the attestation keys
that Vault enrolled derive from them, so they still verify), the BMC accounts Vault minted.
Ports are picked afresh on each start; the inventory is rewritten with them and Vault reloads
it when it starts.

    async with VaultLab(data_dir / "lab" / "vault") as lab:
        install_vault(app, lab.settings)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import yaml
from aiohttp import web
from pydantic import BaseModel

from admin.vault.agent import TpmAgent, agent_app
from admin.vault.config import VaultSettings
from lab.redfish import RedfishEmulator
from lab.tpm import BOOT, EkCa, LabTpms, SoftTpm, reference_values

Role = Literal["controlplane", "worker"]


@dataclass(frozen=True)
class RackPlan:
    """A rack a fresh lab builds: where it stands and its nodes' roles (nodes n0, n1, ...).
    `rack_type` should have a price in VaultSettings.prices, or its hours are not charged."""

    name: str
    metro: str
    country: str
    rack_type: str = "gpu-8x-h100"
    roles: tuple[Role, ...] = ("controlplane", "worker", "worker")


# Two metros, so that a reservation's metro and sovereignty choices mean something; `lab-` in
# every name says what they are wherever the name shows (racks list, usage, console).
RACKS = (
    RackPlan("lab-fra1-r01", "fra1", "DE"),
    RackPlan("lab-ams1-r01", "ams1", "NL"),
)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---- the manifest: what a restart must find again


class _NodeRecord(BaseModel):
    name: str
    role: Role
    system_id: str


class _RackRecord(BaseModel):
    name: str
    metro: str
    country: str
    rack_type: str
    bmc_username: str
    bmc_password: str
    nodes: list[_NodeRecord]


class _Manifest(BaseModel):
    racks: list[_RackRecord]

    @classmethod
    def fresh(cls, plans: Sequence[RackPlan]) -> _Manifest:
        return cls(
            racks=[
                _RackRecord(
                    name=p.name,
                    metro=p.metro,
                    country=p.country,
                    rack_type=p.rack_type,
                    bmc_username="admin",
                    bmc_password=secrets.token_urlsafe(18),
                    nodes=[
                        _NodeRecord(name=f"n{i}", role=role, system_id=str(uuid.uuid4()))
                        for i, role in enumerate(p.roles)
                    ],
                )
                for p in plans
            ]
        )


def _write_private(path: Path, text: str) -> None:
    """Written whole (a crash leaves the old file or the new), readable by the owner only: it
    holds the BMCs' admin passwords."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


# ---- the running lab


@dataclass
class LabNode:
    name: str
    role: Role
    system_id: str
    # The node's address on the (simulated) rack network: what Talos configs name.
    address: str
    agent: TpmAgent
    agent_url: str


@dataclass
class LabRack:
    name: str
    metro: str
    country: str
    rack_type: str
    endpoint: str  # the rack's Kubernetes API, as Talos configs name it
    bmc: RedfishEmulator
    nodes: list[LabNode]

    def inventory(self) -> dict[str, Any]:
        """This rack as an inventory entry (admin/vault/inventory.py), with the BMC's current
        login and the reference values of the lab's good boot."""
        reference = {pcr: sorted(digests) for pcr, digests in reference_values().items()}
        return {
            "name": self.name,
            "metro": self.metro,
            "rack_type": self.rack_type,
            "country": self.country,
            "endpoint": self.endpoint,
            "reference_values": reference,
            "nodes": [
                {
                    "name": n.name,
                    "role": n.role,
                    "address": n.address,
                    "redfish": {
                        "url": self.bmc.url,
                        "system_id": n.system_id,
                        "username": self.bmc.username,
                        "password": self.bmc.password,
                    },
                    "agent_url": n.agent_url,
                }
                for n in self.nodes
            ],
        }


INVENTORY_HEADER = (
    "# Generated by the Vault lab (lab/vault.py) on each start: simulated racks (sushy-tools'\n"
    "# Redfish emulator, swtpm TPMs), not hardware. Edits are overwritten.\n"
)


def write_inventory(path: Path, racks: Iterable[LabRack]) -> None:
    doc = {"racks": [r.inventory() for r in racks]}
    _write_private(path, INVENTORY_HEADER + yaml.safe_dump(doc, sort_keys=False))


async def _all(jobs: Iterable[Awaitable[object]]) -> None:
    """Every job runs to its end before the first failure is raised: nothing is still starting
    while the caller unwinds what did start."""
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class VaultLab:
    """Usage: `async with VaultLab(directory) as lab: lab.settings, lab.racks`.

    A fresh directory is manufactured from `racks` (TPMs about a second each, in parallel);
    later starts reuse what it holds and ignore `racks`. `stock` gives TPM states to copy
    instead of manufacturing (tests share one batch per process), `stock.ca` then being the
    lab's EK CA. Progress lines go to `say` (stderr by default)."""

    def __init__(
        self,
        directory: Path,
        *,
        racks: Sequence[RackPlan] = RACKS,
        stock: LabTpms | None = None,
        say: Callable[[str], None] = _log,
    ) -> None:
        self.dir = directory
        self._plans = racks
        self._stock = stock
        self._say = say
        self._stack = AsyncExitStack()
        self.racks: list[LabRack] = []
        self.ca = stock.ca if stock is not None else EkCa(directory / "ca")

    @property
    def manifest(self) -> Path:
        return self.dir / "lab.json"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yaml"

    @property
    def settings(self) -> VaultSettings:
        """What the admin app's Vault runs with: this lab's inventory, its CA as the TPM
        vendor, and a pace for BMCs that answer in milliseconds. No secret keys: the admin
        seals with its local key file unless VOLT_VAULT_SECRET_KEYS says otherwise."""
        return VaultSettings(
            inventory=self.inventory,
            ek_ca_bundle=self.ca.bundle,
            reconcile_interval_s=0.5,
            retry_base_s=1.0,
            retry_max_s=15.0,
            power_wait_s=15.0,  # the emulator lands a power change within 11 s
        )

    @property
    def example_rack(self) -> tuple[str, str]:
        """A metro and rack type a reservation can ask for: the first rack's."""
        first = self.racks[0]
        return first.metro, first.rack_type

    def summary(self) -> list[str]:
        """One line per rack, for a start-up banner."""
        return [
            f"{r.name}  {r.metro} ({r.country})  {r.rack_type}  {len(r.nodes)} nodes, "
            f"BMC {r.bmc.url}"
            for r in self.racks
        ]

    def write_inventory(self) -> None:
        """Rewrites the inventory from the running lab (after a BMC login changed, say)."""
        write_inventory(self.inventory, self.racks)

    async def __aenter__(self) -> VaultLab:
        started = time.monotonic()
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        nodes = sum(len(r.nodes) for r in self.racks)
        self._say(
            f"vault lab: {len(self.racks)} simulated racks, {nodes} nodes up in "
            f"{time.monotonic() - started:.1f} s ({self.dir})"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
        self.racks = []

    def _load(self) -> _Manifest:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.manifest.exists():
            return _Manifest.model_validate_json(self.manifest.read_text())
        manifest = _Manifest.fresh(self._plans)
        _write_private(self.manifest, manifest.model_dump_json(indent=2))
        return manifest

    def _tpm_state(self, rack: str, node: str) -> Path:
        return self.dir / "tpms" / rack / node

    async def _manufacture(self, manifest: _Manifest) -> None:
        """The TPMs the directory lacks (all of them when it is fresh)."""
        missing = [
            self._tpm_state(r.name, n.name)
            for r in manifest.racks
            for n in r.nodes
            if not self._tpm_state(r.name, n.name).exists()
        ]
        if not missing:
            return
        stock = self._stock
        if stock is not None:
            if len(stock.nodes) < len(missing):
                raise ValueError(f"{len(missing)} TPMs wanted, the stock has {len(stock.nodes)}")
            for source, state in zip(stock.nodes, missing, strict=False):
                shutil.copytree(source, state)
            return
        self._say(
            f"vault lab: manufacturing {len(missing)} TPMs (EK certificates from {self.ca.dir})"
        )

        def make(state: Path) -> None:
            # Into a scratch directory first: an interrupted start leaves no half-made TPM.
            scratch = state.with_name(state.name + ".new")
            shutil.rmtree(scratch, ignore_errors=True)
            self.ca.manufacture(scratch)
            scratch.replace(state)

        for state in missing:
            state.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(make, missing[0])  # makes the CA, which the others then share
        await _all(asyncio.to_thread(make, s) for s in missing[1:])

    async def _start(self) -> None:
        manifest = self._load()
        await self._manufacture(manifest)
        stack = self._stack
        bmcs: list[RedfishEmulator] = []
        tpms: dict[tuple[str, str], SoftTpm] = {}
        for r in manifest.racks:
            bmc = RedfishEmulator(
                self.dir / "bmcs" / r.name,
                systems=[n.system_id for n in r.nodes],
                username=r.bmc_username,
                password=r.bmc_password,
            )
            stack.callback(bmc.stop)  # before it starts: a start that fails half-way is undone
            bmcs.append(bmc)
            for n in r.nodes:
                tpm = SoftTpm(self._tpm_state(r.name, n.name))
                stack.callback(tpm.stop)
                tpms[r.name, n.name] = tpm
        starts = [b.start for b in bmcs] + [t.start for t in tpms.values()]
        await _all(asyncio.to_thread(start) for start in starts)

        async def node(i: int, j: int, r: _RackRecord, n: _NodeRecord) -> LabNode:
            agent = await asyncio.to_thread(TpmAgent, "swtpm", tpms[r.name, n.name].tcti_config)
            stack.callback(agent.close)
            for pcr, data, what in BOOT:  # the boot a good node measures, afresh each start
                agent.measure(pcr, data, what)
            url = await self._serve(agent_app(agent))
            return LabNode(n.name, n.role, n.system_id, f"10.20.{i}.{11 + j}", agent, url)

        for i, (r, bmc) in enumerate(zip(manifest.racks, bmcs, strict=True)):
            nodes = [await node(i, j, r, n) for j, n in enumerate(r.nodes)]
            endpoint = f"https://10.20.{i}.10:6443"
            self.racks.append(
                LabRack(r.name, r.metro, r.country, r.rack_type, endpoint, bmc, nodes)
            )
        self.write_inventory()

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"
