"""Running an action on a rack's BMCs, the one way provisioning, release, account expiry and
minting all do it: in threads (sushy blocks), nodes in parallel, the admin password unsealed
only for the call and each client closed after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from admin.vault.redfish import Bmc
from admin.vault.sealing import Sealer
from admin.vault.store import PhysicalNode

T = TypeVar("T")


async def on_bmcs(
    sealer: Sealer, nodes: Sequence[PhysicalNode], act: Callable[[Bmc, PhysicalNode], T]
) -> list[T | BaseException]:
    """`act(bmc, node)` on each node's BMC. Results come in node order, exceptions included.

    Usage: `await on_bmcs(sealer, nodes, lambda bmc, node: bmc.power_off(node.system_id))`.
    """

    def one(node: PhysicalNode) -> T:
        password = sealer.open(node.bmc_password_sealed).decode()
        bmc = Bmc(node.redfish_url, node.bmc_username, password)
        try:
            return act(bmc, node)
        finally:
            bmc.close()

    return await asyncio.gather(*(asyncio.to_thread(one, n) for n in nodes), return_exceptions=True)


def distinct_bmcs(nodes: Sequence[PhysicalNode]) -> list[PhysicalNode]:
    """One node per BMC endpoint: accounts live on a BMC, and a multi-node chassis (or the
    emulator) serves several systems from one."""
    return list({n.redfish_url: n for n in reversed(nodes)}.values())
