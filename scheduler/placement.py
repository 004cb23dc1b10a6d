"""GPU placement for Forge leases: pure best-fit packing, no I/O.

Policy. A lease that fits on one node goes to the node whose free GPUs fit it most tightly
(best fit), which keeps the emptiest nodes whole for large leases. A lease larger than any
single node's free GPUs takes whole free nodes only (largest first), never fragments of
partly used ones, so multi-node leases get dedicated machines. `largest_placeable` is computed
from the same rules, so availability always equals what a lease can actually get.

Co-location. Whether two orgs may hold GPUs on one node is the operator's choice
(`Tenancy.share_nodes`): a node is one kernel, one container runtime and one device plugin, so
sharing it makes every node-level escape a cross-tenant one. Without sharing, a node that holds
another org's lease is not part of the pool at all, for placement and availability alike.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

Placement = dict[str, int]  # node name -> GPUs on it


@dataclass(frozen=True, slots=True)
class GpuNode:
    name: str
    metro: str
    gpu_type: str
    capacity: int


@dataclass(frozen=True, slots=True)
class Tenancy:
    """Who asks and who already holds what: `org` is the asking org, `owners` node -> the orgs
    holding GPUs on it. With `share_nodes` False a node that any other org holds is not usable.

    Usage: `place(nodes, held, metro=m, gpu_type=t, count=2, tenancy=Tenancy("org_a", owners))`.
    """

    org: str
    owners: Mapping[str, Collection[str]] = field(default_factory=dict)
    share_nodes: bool = False

    def usable(self, node: str) -> bool:
        return self.share_nodes or all(o == self.org for o in self.owners.get(node, ()))


# Everything may share: the policy with no tenancy constraint.
SHARED = Tenancy("", share_nodes=True)


def free_gpus(nodes: Iterable[GpuNode], allocated: Mapping[str, int]) -> dict[str, int]:
    """Free GPUs per node; an allocation above capacity (a node shrank) counts as none free."""
    return {n.name: max(n.capacity - allocated.get(n.name, 0), 0) for n in nodes}


def usable_pool(
    nodes: Iterable[GpuNode], metro: str, gpu_type: str, tenancy: Tenancy = SHARED
) -> list[GpuNode]:
    """The nodes a lease of this org may be placed on."""
    return [
        n
        for n in nodes
        if n.metro == metro and n.gpu_type == gpu_type and n.capacity > 0 and tenancy.usable(n.name)
    ]


def place(
    nodes: Iterable[GpuNode],
    allocated: Mapping[str, int],
    *,
    metro: str,
    gpu_type: str,
    count: int,
    tenancy: Tenancy = SHARED,
) -> Placement | None:
    """Where `count` GPUs of a type go in a metro, or None when they cannot be had now."""
    if count < 1:
        raise ValueError("count must be positive")
    pool = usable_pool(nodes, metro, gpu_type, tenancy)
    free = free_gpus(pool, allocated)
    # Best fit on one node: the tightest node that holds the whole lease (ties by name, so
    # placement is deterministic).
    fitting = [n for n in pool if free[n.name] >= count]
    if fitting:
        best = min(fitting, key=lambda n: (free[n.name], n.name))
        return {best.name: count}
    # Spanning: whole free nodes, largest first, the last one only as far as needed.
    whole = sorted(
        (n for n in pool if free[n.name] == n.capacity), key=lambda n: (-n.capacity, n.name)
    )
    placement: Placement = {}
    needed = count
    for node in whole:
        if needed <= 0:
            break
        take = min(node.capacity, needed)
        placement[node.name] = take
        needed -= take
    return placement if needed <= 0 else None


def largest_placeable(
    nodes: Iterable[GpuNode],
    allocated: Mapping[str, int],
    *,
    metro: str,
    gpu_type: str,
    tenancy: Tenancy = SHARED,
) -> int:
    """The largest lease `place` would accept right now."""
    pool = usable_pool(nodes, metro, gpu_type, tenancy)
    free = free_gpus(pool, allocated)
    single = max(free.values(), default=0)
    whole = sum(n.capacity for n in pool if free[n.name] == n.capacity)
    return max(single, whole)
