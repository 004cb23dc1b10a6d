"""Placement properties, exhaustively with hypothesis and without an event loop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.placement import GpuNode, free_gpus, largest_placeable, place

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
