"""A rack's next tenant never receives hardware with a previous tenant's BMC account: minting
races release in a loop against the real emulator behind its AccountService, driven through the
same functions the API and the reconciler call; and the release sweeps accounts Volt never
recorded, but never the operator's own login.

`VOLT_VAULT_RACE_ITERATIONS` (default 200) lengthens the campaign, and
`VOLT_VAULT_RACE_RESULTS` names a file its figures are appended to: `make vault-race`."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from admin.vault import credentials, store
from admin.vault.config import VaultSettings
from admin.vault.inventory import Inventory, sync
from admin.vault.reconciler import Reconciler
from admin.vault.redfish import Bmc, BmcError
from admin.vault.sealing import Sealer, new_key
from admin.vault.states import RackEvent, RackState
from lab.redfish import RedfishEmulator
from tests.conftest import MakeOrg, Org
from voltcore import versioned
from voltcore.audit import AuditEntry
from voltcore.errors import Conflict

pytestmark = pytest.mark.slow
ITERATIONS = int(os.environ.get("VOLT_VAULT_RACE_ITERATIONS", "200"))
RESULTS = os.environ.get("VOLT_VAULT_RACE_RESULTS")


@dataclass
class Bench:
    pool: Any
    bmc: RedfishEmulator
    rack: str
    sealer: Sealer
    vault: VaultSettings
    reconciler: Reconciler
    audited: list[AuditEntry]

    def accounts(self) -> set[str]:
        """Every account on the BMC, read with the operator's login."""
        bmc = Bmc(self.bmc.url, self.bmc.username, self.bmc.password)
        try:
            return bmc.account_names()
        finally:
            bmc.close()

    async def ready_rack(self, org: Org) -> store.Rack:
        """A tenant's reservation, straight to ready (the nodes stay off: release has no
        power change to wait for, so an iteration takes milliseconds)."""
        physical = await store.inventory_rack(self.pool, self.rack)
        async with self.pool.acquire() as conn:
            rack = await store.insert_rack(conn, org.id, physical, None)
        row = await self.pool.fetchrow(
            "UPDATE vault_racks SET status = 'ready', secrets_sealed = $2 WHERE id = $1 "
            "RETURNING *",
            rack.id,
            self.sealer.seal(b"{}"),
        )
        return store.Rack.from_record(row)

    async def release(self, org: Org, rack_id: str) -> store.Rack:
        """What DELETE /v1/vault/racks/{id} does, then reconcile passes until released."""

        async def apply(rack: store.Rack) -> store.Rack | None:
            return await store.RACKS.apply(
                self.pool, rack, RackEvent.RELEASE, target=RackState.RELEASING
            )

        rack = await versioned.change(
            lambda: store.RACKS.get(self.pool, org.id, rack_id), apply, code="rack_changed"
        )
        deadline = time.monotonic() + 30
        while rack.status is not RackState.RELEASED:
            assert time.monotonic() < deadline, (rack.status, rack.last_error)
            await self.reconciler.reconcile(rack)
            rack = await store.RACKS.get(self.pool, org.id, rack_id)
        return rack


@pytest_asyncio.fixture
async def bench(tmp_path: Path, pool: Any) -> AsyncIterator[Bench]:
    (tmp_path / "bmc").mkdir()
    with RedfishEmulator(tmp_path / "bmc", nodes=3) as bmc:
        rack = f"race-{uuid.uuid4().hex[:8]}"
        inventory = Inventory.model_validate(
            {
                "racks": [
                    {
                        "name": rack,
                        "metro": "race1",
                        "rack_type": "gpu-8x-h100",
                        "country": "DE",
                        "endpoint": "https://10.30.0.10:6443",
                        "nodes": [
                            {
                                "name": f"n{i}",
                                "role": "controlplane" if i == 0 else "worker",
                                "address": f"10.30.0.{11 + i}",
                                "redfish": {
                                    "url": bmc.url,
                                    "system_id": system,
                                    "username": bmc.username,
                                    "password": bmc.password,
                                },
                            }
                            for i, system in enumerate(bmc.systems)
                        ],
                    }
                ]
            }
        )
        sealer = Sealer([new_key()])
        async with pool.acquire() as conn:
            await sync(conn, inventory, sealer)
        vault = VaultSettings(secret_keys=[new_key()])  # type: ignore[list-item]
        audited: list[AuditEntry] = []
        reconciler = Reconciler(pool, sealer, vault, audited.append)
        yield Bench(pool, bmc, rack, sealer, vault, reconciler, audited)
        await pool.execute("UPDATE vault_inventory_racks SET enabled = false WHERE name = $1", rack)


def logs_in(bench: Bench, username: str, password: str) -> bool:
    try:
        Bmc(bench.bmc.emulator_url, username, password).systems()
        return True
    except BmcError as err:
        assert err.code == "bmc_auth_failed", err.code
        return False


def append(path: Path, line: str) -> None:
    with path.open("a") as results:
        results.write(line + "\n")


async def test_mint_racing_release_never_leaves_an_account(bench: Bench, make_org: MakeOrg) -> None:
    org = await make_org("Racer")
    # A BMC takes its time to create an account; long enough, at times, for a whole release
    # (deletion, sweep, power off) to run in between: without the rack lock this leaks.
    bench.bmc.accounts.create_delay = lambda: random.choice((0.0, random.uniform(0, 0.2)))
    operator = {bench.bmc.username}
    outcomes = {"minted": 0, "refused": 0}
    started = time.monotonic()
    for _ in range(ITERATIONS):
        rack = await bench.ready_rack(org)

        async def mint(rack_id: str = rack.id) -> credentials.Minted | None:
            await asyncio.sleep(random.uniform(0, 0.004))
            try:
                return await credentials.mint(
                    bench.pool, bench.sealer, bench.vault, org.id, rack_id, 600
                )
            except Conflict as refused:
                assert refused.code == "rack_not_allocated"
                return None

        async def release(rack_id: str = rack.id) -> store.Rack:
            # A little later on average: the mint's first steps (read, record) come first.
            await asyncio.sleep(random.uniform(0, 0.012))
            return await bench.release(org, rack_id)

        minted, released = await asyncio.gather(mint(), release())
        # What the next tenant is handed: a released rack whose BMC has only the operator.
        assert released.status is RackState.RELEASED
        assert await asyncio.to_thread(bench.accounts) == operator
        if minted is None:
            outcomes["refused"] += 1
        else:
            outcomes["minted"] += 1
            assert not await asyncio.to_thread(
                logs_in, bench, minted.account.username, minted.password
            )
    elapsed = time.monotonic() - started
    figures = f"{ITERATIONS} mint/release races in {elapsed:.1f}s: {outcomes}, no account left"
    print("\n" + figures)
    if RESULTS:
        await asyncio.to_thread(
            append, Path(RESULTS), f"{time.strftime('%Y-%m-%d %H:%M')} {figures}"
        )
    # Both orders happened, so the loop exercised the race rather than one side of it.
    assert outcomes["minted"] and outcomes["refused"], outcomes


async def test_release_sweeps_accounts_volt_never_recorded(bench: Bench, make_org: MakeOrg) -> None:
    org = await make_org("Squatter")
    rack = await bench.ready_rack(org)
    minted = await credentials.mint(bench.pool, bench.sealer, bench.vault, org.id, rack.id, 600)
    # A backdoor on the BMC that no row records (a tenant with an administrator login, or a
    # mint that died between the BMC and the database), and a recorded account whose row was lost.
    admin = Bmc(bench.bmc.url, bench.bmc.username, bench.bmc.password)
    try:
        await asyncio.to_thread(admin.create_account, "backdoor", "Backdoor-pass-123", "Operator")
    finally:
        admin.close()
    await bench.pool.execute("DELETE FROM vault_bmc_accounts WHERE id = $1", minted.account.id)
    assert await asyncio.to_thread(logs_in, bench, "backdoor", "Backdoor-pass-123")
    released = await bench.release(org, rack.id)
    assert released.status is RackState.RELEASED
    assert await asyncio.to_thread(bench.accounts) == {bench.bmc.username}
    assert not await asyncio.to_thread(logs_in, bench, "backdoor", "Backdoor-pass-123")
    assert not await asyncio.to_thread(logs_in, bench, minted.account.username, minted.password)
    # The operator's own login survives the sweep and still works.
    assert await asyncio.to_thread(logs_in, bench, bench.bmc.username, bench.bmc.password)
    assert len([e for e in bench.audited if e.request_id == rack.id]) == 2
