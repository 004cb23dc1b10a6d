"""Minting time-limited BMC accounts for a rack's tenant, serialised against the rack's release.

The race this closes: a mint that read the rack as ready, then a release and its sweep, then
the mint's account landing on the BMC, would leave a live login on hardware that the next
tenant receives. A mint records its account, then holds a share lock on the rack row from the
state check until the account is on every BMC; a release is an update of that row, so it waits
for the mint to finish, and the reconciler's deletion and sweep that follow see (and delete)
what it made. A mint that takes the lock after the release sees `releasing` and is refused."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

import asyncpg

from admin.vault import store
from admin.vault.bmcs import distinct_bmcs, on_bmcs
from admin.vault.config import VaultSettings
from admin.vault.redfish import BmcError
from admin.vault.sealing import Sealer
from admin.vault.states import RackState
from admin.vault.store import BmcAccount, PhysicalNode, Rack
from voltcore.errors import ServiceUnavailable

MINTABLE = frozenset({RackState.PROVISIONING, RackState.READY})


@dataclass(frozen=True)
class Minted:
    rack: Rack
    account: BmcAccount
    password: str
    nodes: list[PhysicalNode]


def new_password() -> str:
    """20 characters with every class BMC password policies ask for."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.~!#%")
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(16)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


async def mint(
    pool: asyncpg.Pool,
    sealer: Sealer,
    settings: VaultSettings,
    org_id: str,
    rack_id: str,
    ttl_seconds: int,
) -> Minted:
    """One account, the same user name and password on every BMC of the rack.

    Usage: `minted = await mint(pool, sealer, settings, org_id, rack_id, 3600)`; raises the
    rack's 404, a 409 unless it is provisioning or ready, or a 503 when a BMC refused."""
    role = settings.bmc_role
    ttl = min(ttl_seconds, settings.max_credential_ttl_s)
    what = "BMC credentials are minted for provisioning or ready racks"
    # One connection throughout: a mint holding a lock while waiting for a second connection
    # would deadlock once concurrent mints take the whole pool.
    async with pool.acquire() as conn:
        rack = await store.RACKS.get(conn, org_id, rack_id)
        store.require_state(rack, MINTABLE, what)
        # Committed before any BMC sees it, so that an interrupted mint is still cleaned up
        # by expiry, and the sweep of a release that waits on the lock below finds it.
        account = await store.insert_account(conn, rack, role, store.from_now(ttl))
        password = new_password()
        nodes: list[PhysicalNode] = []
        results: list[BaseException | None] = []
        async with conn.transaction():
            rack = await store.share_rack(conn, org_id, rack_id)
            mintable = rack.status in MINTABLE and rack.secrets_sealed is not None
            if mintable:
                nodes = await store.inventory_nodes(conn, rack.inventory_rack)
                results = await on_bmcs(
                    sealer,
                    distinct_bmcs(nodes),
                    lambda bmc, _: bmc.create_account(account.username, password, role),
                )
        if not mintable:  # released meanwhile: no BMC saw the account
            await store.mark_deleted(conn, account.id)
            store.require_state(rack, MINTABLE, what)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            # Expire it now: the reconciler deletes whatever part was made, on every node.
            await store.expire_account(conn, account.id)
    if failed:
        error = failed[0]
        if isinstance(error, BmcError):
            raise ServiceUnavailable(
                f"A BMC of the rack did not accept the account: {error.message}",
                code=error.code,
                headers={"retry-after": "10"},
            )
        raise error
    return Minted(rack, account, password, nodes)
