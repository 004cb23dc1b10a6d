"""Placement properties, exhaustively with hypothesis and without an event loop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.placement import GpuNode, Tenancy, free_gpus, largest_placeable, place

METROS, TYPES = ["fra1", "ams1"], ["H100", "A100"]

nodes_st = st.lists(
    st.builds(
        GpuNode,
        name=st.just(""),
        metro=st.sampled_from(METROS),
        gpu_type=st.sampled_from(TYPES),
        capacity=st.sampled_from([1, 2, 4, 8]),
    ),
    min_size=0,
    max_size=8,
).map(lambda ns: [GpuNode(f"n{i}", n.metro, n.gpu_type, n.capacity) for i, n in enumerate(ns)])

ops_st = st.lists(
    st.tuples(
        st.sampled_from(["lease", "release"]),
        st.sampled_from(METROS),
        st.sampled_from(TYPES),
        st.integers(1, 20),
        st.integers(0, 50),
    ),
    max_size=40,
)


def apply(allocated: dict[str, int], placement: dict[str, int], sign: int) -> None:
    for node, gpus in placement.items():
        allocated[node] = allocated.get(node, 0) + sign * gpus


@settings(max_examples=300)
@given(nodes_st, ops_st)
def test_never_over_allocates_and_availability_is_exact(nodes, ops) -> None:  # type: ignore[no-untyped-def]
    allocated: dict[str, int] = {}
    leases: list[dict[str, int]] = []
    for op, metro, gpu_type, count, pick in ops:
        if op == "release" and leases:
            apply(allocated, leases.pop(pick % len(leases)), -1)
            continue
        largest = largest_placeable(nodes, allocated, metro=metro, gpu_type=gpu_type)
        placement = place(nodes, allocated, metro=metro, gpu_type=gpu_type, count=count)
        # Availability says exactly what a lease can get: up to `largest`, nothing more.
        assert (placement is not None) == (count <= largest)
        if largest:
            assert place(nodes, allocated, metro=metro, gpu_type=gpu_type, count=largest)
        assert place(nodes, allocated, metro=metro, gpu_type=gpu_type, count=largest + 1) is None
        if placement is None:
            continue
        assert sum(placement.values()) == count and all(v > 0 for v in placement.values())
        by_name = {n.name: n for n in nodes}
        assert all(by_name[k].metro == metro and by_name[k].gpu_type == gpu_type for k in placement)
        apply(allocated, placement, +1)
        leases.append(placement)
        # Never more than a node holds.
        assert all(allocated.get(n.name, 0) <= n.capacity for n in nodes)
        assert all(v >= 0 for v in free_gpus(nodes, allocated).values())


def test_best_fit_keeps_large_blocks_free() -> None:
    nodes = [GpuNode("big", "fra1", "H100", 8), GpuNode("small", "fra1", "H100", 4)]
    # 2 GPUs go to the 4-GPU node, leaving the 8-GPU node whole for an 8-GPU lease.
    assert place(nodes, {}, metro="fra1", gpu_type="H100", count=2) == {"small": 2}
    assert place(nodes, {"small": 2}, metro="fra1", gpu_type="H100", count=8) == {"big": 8}
    # Tightest fit among partly used nodes.
    assert place(nodes, {"big": 5, "small": 1}, metro="fra1", gpu_type="H100", count=3) == {
        "big": 3
    }


def test_multi_node_leases_take_whole_nodes() -> None:
    nodes = [GpuNode(f"n{i}", "fra1", "H100", 8) for i in range(3)]
    assert place(nodes, {}, metro="fra1", gpu_type="H100", count=16) == {"n0": 8, "n1": 8}
    # A partly used node is not a fragment for spanning: 12 needs two whole nodes.
    assert place(nodes, {"n0": 1}, metro="fra1", gpu_type="H100", count=12) == {"n1": 8, "n2": 4}
    assert largest_placeable(nodes, {"n0": 1}, metro="fra1", gpu_type="H100") == 16
    assert place(nodes, {"n0": 1}, metro="fra1", gpu_type="H100", count=17) is None
    assert largest_placeable(nodes, {}, metro="ams1", gpu_type="H100") == 0


ORGS = ["org_a", "org_b", "org_c"]
org_ops_st = st.lists(
    st.tuples(
        st.sampled_from(["lease", "release"]),
        st.sampled_from(ORGS),
        st.sampled_from(METROS),
        st.sampled_from(TYPES),
        st.integers(1, 20),
        st.integers(0, 50),
    ),
    max_size=40,
)


def run_orgs(nodes: list[GpuNode], ops, share_nodes: bool):  # type: ignore[no-untyped-def]
    """Drives leases of several orgs through placement as the lease API does: availability and
    placement both see which orgs hold each node. Yields the state after every lease."""
    allocated: dict[str, int] = {}
    leases: list[tuple[str, dict[str, int]]] = []
    for op, org, metro, gpu_type, count, pick in ops:
        if op == "release" and leases:
            apply(allocated, leases.pop(pick % len(leases))[1], -1)
            continue
        owners: dict[str, set[str]] = {}
        for holder, held in leases:
            for node in held:
                owners.setdefault(node, set()).add(holder)
        tenancy = Tenancy(org, owners, share_nodes)
        where = {"metro": metro, "gpu_type": gpu_type, "tenancy": tenancy}
        largest = largest_placeable(nodes, allocated, **where)  # type: ignore[arg-type]
        placement = place(nodes, allocated, count=count, **where)  # type: ignore[arg-type]
        # Availability is still exact, per asking org.
        assert (placement is not None) == (count <= largest)
        assert place(nodes, allocated, count=largest + 1, **where) is None  # type: ignore[arg-type]
        if placement is None:
            continue
        assert sum(placement.values()) == count
        apply(allocated, placement, +1)
        leases.append((org, placement))
        assert all(allocated.get(n.name, 0) <= n.capacity for n in nodes)
        yield org, placement, owners, leases


@settings(max_examples=300)
@given(nodes_st, org_ops_st)
def test_without_sharing_no_node_ever_holds_two_orgs(nodes, ops) -> None:  # type: ignore[no-untyped-def]
    for org, placement, owners, leases in run_orgs(nodes, ops, share_nodes=False):
        # The new lease never lands where another org already is ...
        assert all(owners.get(node, set()) <= {org} for node in placement)
        # ... so at every moment each node holds at most one org.
        holders: dict[str, set[str]] = {}
        for holder, held in leases:
            for node in held:
                holders.setdefault(node, set()).add(holder)
        assert all(len(h) == 1 for h in holders.values())


@settings(max_examples=300)
@given(nodes_st, org_ops_st)
def test_with_sharing_orgs_do_not_matter(nodes, ops) -> None:  # type: ignore[no-untyped-def]
    # Sharing allowed: placement is exactly the org-blind best fit, whoever asks.
    for _org, placement, _owners, leases in run_orgs(nodes, ops, share_nodes=True):
        blind: dict[str, int] = {}
        for _holder, held in leases[:-1]:
            apply(blind, held, +1)
        (metro,) = {n.metro for n in nodes if n.name in placement}
        (gpu_type,) = {n.gpu_type for n in nodes if n.name in placement}
        count = sum(placement.values())
        assert place(nodes, blind, metro=metro, gpu_type=gpu_type, count=count) == placement


def test_a_node_with_another_orgs_lease_is_not_offered() -> None:
    nodes = [GpuNode("a", "fra1", "H100", 8), GpuNode("b", "fra1", "H100", 8)]
    held, owners = {"a": 2}, {"a": {"org_a"}}
    alone = Tenancy("org_b", owners, share_nodes=False)
    # org_b gets the other node, even though "a" fits 2 more GPUs more tightly.
    assert place(nodes, held, metro="fra1", gpu_type="H100", count=2, tenancy=alone) == {"b": 2}
    assert largest_placeable(nodes, held, metro="fra1", gpu_type="H100", tenancy=alone) == 8
    assert place(nodes, held, metro="fra1", gpu_type="H100", count=9, tenancy=alone) is None
    # Its own node stays open to org_a; with sharing on, best fit packs org_b onto "a".
    mine = Tenancy("org_a", owners, share_nodes=False)
    assert place(nodes, held, metro="fra1", gpu_type="H100", count=2, tenancy=mine) == {"a": 2}
    shared = Tenancy("org_b", owners, share_nodes=True)
    assert place(nodes, held, metro="fra1", gpu_type="H100", count=2, tenancy=shared) == {"a": 2}
