"""Admission counts engine sequences, not requests: no interleaving of admits and releases lets a
tenant hold more than its cap or the engine more than its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.admission import Admission, Limits, Verdict


def test_a_request_costs_every_sequence_it_starts() -> None:
    admission = Admission(Limits(max_inflight=8, max_inflight_per_tenant=6))
    assert admission.try_admit("a", 4) is Verdict.ADMITTED
    # One more request of 4 sequences would put the tenant at 8 > 6, even though it is only
    # the tenant's second request.
    assert admission.try_admit("a", 4) is Verdict.TENANT_LIMIT
    assert admission.try_admit("b", 5) is Verdict.SATURATED
    assert admission.try_admit("b", 4) is Verdict.ADMITTED
    assert admission.inflight == 8 and admission.inflight_of("a") == 4
    admission.release("a", 4)
    assert admission.inflight == 4 and admission.inflight_of("a") == 0


def test_a_request_larger_than_any_cap_is_too_large_not_retryable() -> None:
    admission = Admission(Limits(max_inflight=10, max_inflight_per_tenant=6))
    assert admission.limits.largest == 6
    assert admission.try_admit("a", 7) is Verdict.TOO_LARGE
    assert admission.try_admit("a", 10_000 * 128) is Verdict.TOO_LARGE
    assert admission.inflight == 0


def test_release_more_than_admitted_is_refused() -> None:
    admission = Admission(Limits(max_inflight=10, max_inflight_per_tenant=6))
    admission.try_admit("a", 2)
    with pytest.raises(ValueError, match="without admit"):
        admission.release("a", 3)
    with pytest.raises(ValueError, match="cost must be positive"):
        admission.try_admit("a", 0)


@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(["a", "b", "c"]), st.integers(1, 12)),
        max_size=60,
    ),
    st.integers(1, 20),
    st.integers(1, 20),
)
def test_caps_hold_under_any_interleaving(
    ops: list[tuple[bool, str, int]], total: int, per_tenant: int
) -> None:
    admission = Admission(Limits(total, per_tenant))
    held: list[tuple[str, int]] = []
    for admit, tenant, cost in ops:
        if admit:
            if admission.try_admit(tenant, cost) is Verdict.ADMITTED:
                held.append((tenant, cost))
        elif held:
            admission.release(*held.pop(0))
        assert admission.inflight == sum(c for _, c in held) <= total
        for t in "abc":
            assert admission.inflight_of(t) == sum(c for h, c in held if h == t) <= per_tenant
