"""A Vault lab: one rack of three nodes behind sushy-tools' Redfish emulator (with the
AccountService front), one swtpm and attestation agent per node, an inventory file naming them,
and an admin service with Vault on, over real TCP and a real Postgres."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web

from admin.app import install as install_admin
from admin.vault.agent import TpmAgent, agent_app
from admin.vault.config import VaultSettings
from admin.vault.sealing import new_key
from tests.conftest import serve
from tests.support.client import Client
from tests.support.openapi import Spec
from tests.support.redfish import RedfishEmulator
from tests.support.tpm import BOOT, SoftTpm, lab_tpms, reference_values
from voltcore.config import Settings
from voltcore.service import base_app

ROLES = ("controlplane", "worker", "worker")
REFERENCE = {pcr: sorted(digests) for pcr, digests in reference_values().items()}


@dataclass
class LabNode:
    name: str
    role: str
    system_id: str
    address: str
    agent: TpmAgent
    agent_url: str


@dataclass
class Lab:
    api: Client
    app: web.Application
    runner: web.AppRunner
    bmc: RedfishEmulator
    rack: str
    nodes: list[LabNode]
    settings: Settings
    vault: VaultSettings

    @property
    def inventory(self) -> Path:
        assert self.vault.inventory is not None
        return self.vault.inventory

    async def start(self) -> None:
        self.app = base_app(self.settings)
        install_admin(self.app, vault_settings=self.vault)
        self.runner, self.api.base = await serve(self.app)

    async def restart(self) -> None:
        """The admin process dies and a new one starts: everything it knew is in Postgres."""
        await self.runner.cleanup()
        await self.start()

    async def wait(self, rack_id: str, key: str, status: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            body = (await self.api.get(f"/v1/vault/racks/{rack_id}", key=key)).json()
            if body["status"] == status:
                return body
            assert time.monotonic() < deadline, (body["status"], body["nodes"], body["last_error"])
            await asyncio.sleep(0.2)

    async def ready_rack(self, key: str) -> dict[str, Any]:
        created = await self.api.post(
            "/v1/vault/racks", key=key, json={"metro": "fra1", "rack_type": "gpu-8x-h100"}
        )
        assert created.status == 202, created.body
        return await self.wait(created.json()["id"], key, "ready")  # type: ignore[no-any-return]


def write_inventory(
    path: Path, rack: str, bmc: RedfishEmulator, nodes: list[LabNode], **node_overrides: Any
) -> None:
    doc = {
        "racks": [
            {
                "name": rack,
                "metro": "fra1",
                "rack_type": "gpu-8x-h100",
                "country": "DE",
                "endpoint": "https://10.20.0.10:6443",
                "reference_values": REFERENCE,
                "nodes": [
                    {
                        "name": n.name,
                        "role": n.role,
                        "address": n.address,
                        "redfish": {
                            "url": bmc.url,
                            "system_id": n.system_id,
                            "username": bmc.username,
                            "password": bmc.password,
                        },
                        "agent_url": n.agent_url,
                        **node_overrides.get(n.name, {}),
                    }
                    for n in nodes
                ],
            }
        ]
    }
    path.write_text(yaml.safe_dump(doc))


@asynccontextmanager
async def vault_lab(
    tmp: Path, settings: Settings, spec: Spec, **node_overrides: Any
) -> AsyncIterator[Lab]:
    """Racks get a fresh name per lab: earlier labs' reservations stay in the shared database."""
    tpms = lab_tpms(len(ROLES))
    async with AsyncExitStack() as stack:
        bmc = RedfishEmulator(tmp / "bmc", nodes=len(ROLES))
        (tmp / "bmc").mkdir()
        stack.enter_context(bmc)
        nodes = []
        for i, (role, system) in enumerate(zip(ROLES, bmc.systems, strict=True)):
            tpm = stack.enter_context(SoftTpm(tmp / f"tpm{i}", manufactured=tpms.nodes[i]))
            agent = TpmAgent("swtpm", tpm.tcti_config)
            stack.callback(agent.close)
            for pcr, data, what in BOOT:
                agent.measure(pcr, data, what)
            runner, url = await serve(agent_app(agent))
            stack.push_async_callback(runner.cleanup)
            nodes.append(LabNode(f"n{i}", role, system, f"10.20.0.{11 + i}", agent, url))
        rack = f"fra1-{uuid.uuid4().hex[:8]}"
        inventory = tmp / "inventory.yaml"
        write_inventory(inventory, rack, bmc, nodes, **node_overrides)
        vault = VaultSettings(
            inventory=inventory,
            secret_keys=[new_key()],  # type: ignore[list-item]
            reconcile_interval_s=0.2,
            retry_base_s=0.5,
            retry_max_s=1.0,
            ek_ca_bundle=tpms.ca.bundle,  # the lab's TPM manufacturer
        )
        session = await stack.enter_async_context(aiohttp.ClientSession())
        placeholder = web.Application()
        api = Client(session, "", spec)
        lab = Lab(api, placeholder, web.AppRunner(placeholder), bmc, rack, nodes, settings, vault)
        await lab.start()
        stack.push_async_callback(lambda: lab.runner.cleanup())
        yield lab


@pytest_asyncio.fixture
async def lab(tmp_path: Path, settings: Settings, spec: Spec) -> AsyncIterator[Lab]:
    async with vault_lab(tmp_path, settings, spec) as it:
        yield it


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vault")
