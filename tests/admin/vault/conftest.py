"""A Vault lab (lab/vault.py) of one rack of three nodes, and an admin service with Vault on
over it, over real TCP and a real Postgres."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from admin.app import install as install_admin
from admin.vault.config import VaultSettings
from admin.vault.sealing import new_key
from lab.redfish import RedfishEmulator
from lab.tpm import lab_tpms
from lab.vault import LabNode, LabRack, RackPlan, Role, VaultLab
from lab.vault import write_inventory as write_lab_inventory
from tests.conftest import serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.service import base_app

ROLES: tuple[Role, ...] = ("controlplane", "worker", "worker")
METRO, COUNTRY, RACK_TYPE = "fra1", "DE", "gpu-8x-h100"


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


def write_inventory(path: Path, rack: str, bmc: RedfishEmulator, nodes: list[LabNode]) -> None:
    """The lab's inventory as it would write it, with the BMC's login as it is now."""
    endpoint = "https://10.20.0.10:6443"
    write_lab_inventory(path, [LabRack(rack, METRO, COUNTRY, RACK_TYPE, endpoint, bmc, nodes)])


@asynccontextmanager
async def admin_over(
    lab: VaultLab, settings: Settings, spec: Spec, vault: VaultSettings | None = None
) -> AsyncIterator[Lab]:
    """An admin service with Vault on over `lab` (with `lab.settings` unless `vault` is
    given); the Lab's rack is the lab's first."""
    rack = lab.racks[0]
    async with aiohttp.ClientSession() as session:
        placeholder = web.Application()
        it = Lab(
            Client(session, "", spec), placeholder, web.AppRunner(placeholder), rack.bmc,
            rack.name, rack.nodes, settings, vault or lab.settings,
        )  # fmt: skip
        await it.start()
        try:
            yield it
        finally:
            await it.runner.cleanup()


@asynccontextmanager
async def vault_lab(tmp: Path, settings: Settings, spec: Spec) -> AsyncIterator[Lab]:
    """Racks get a fresh name per lab: earlier labs' reservations stay in the shared database.
    The TPMs are copies of one batch per test process."""
    plan = RackPlan(f"{METRO}-{uuid.uuid4().hex[:8]}", METRO, COUNTRY, RACK_TYPE, ROLES)
    stock = lab_tpms(len(ROLES))
    async with VaultLab(tmp, racks=[plan], stock=stock, say=lambda _: None) as lab:
        # Faster than the lab's pace, and a key of its own: tests share one data directory.
        vault = lab.settings.model_copy(
            update={
                "secret_keys": [SecretStr(new_key())],  # model_copy does not validate
                "reconcile_interval_s": 0.2,
                "retry_base_s": 0.5,
                "retry_max_s": 1.0,
                "power_wait_s": VaultSettings.model_fields["power_wait_s"].default,
            }
        )
        async with admin_over(lab, settings, spec, vault) as it:
            yield it


@pytest_asyncio.fixture
async def lab(tmp_path: Path, settings: Settings, spec: Spec) -> AsyncIterator[Lab]:
    async with vault_lab(tmp_path, settings, spec) as it:
        yield it


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vault")
