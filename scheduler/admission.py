"""Bounded admission to an engine: a global cap and a per-tenant cap on engine sequences in
flight.

A request costs the sequences it starts in the engine (prompts x `n` for completions), not one:
otherwise a single request of thousands of prompts would hold one slot and fill the batch.
Past the engine's cap the request is refused (503, the service is saturated) rather than queued
without limit; past a tenant's cap only that tenant is refused (429), so one tenant cannot take
every slot; a request that could never fit either cap is refused as too large (400). Pure
bookkeeping, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ADMITTED = "admitted"
    SATURATED = "saturated"
    TENANT_LIMIT = "tenant_limit"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class Limits:
    max_inflight: int
    max_inflight_per_tenant: int

    @property
    def largest(self) -> int:
        """The most sequences one request may cost and still be admissible."""
        return min(self.max_inflight, self.max_inflight_per_tenant)


class Admission:
    """Usage: `if admission.try_admit(org, cost) is Verdict.ADMITTED: ... finally
    release(org, cost)`."""

    def __init__(self, limits: Limits) -> None:
        if limits.max_inflight < 1 or limits.max_inflight_per_tenant < 1:
            raise ValueError("limits must be positive")
        self.limits = limits
        self._by_tenant: Counter[str] = Counter()
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def inflight_of(self, tenant: str) -> int:
        return self._by_tenant[tenant]

    def try_admit(self, tenant: str, cost: int = 1) -> Verdict:
        if cost < 1:
            raise ValueError("cost must be positive")
        if cost > self.limits.largest:
            return Verdict.TOO_LARGE
        if self._by_tenant[tenant] + cost > self.limits.max_inflight_per_tenant:
            return Verdict.TENANT_LIMIT
        if self._inflight + cost > self.limits.max_inflight:
            return Verdict.SATURATED
        self._by_tenant[tenant] += cost
        self._inflight += cost
        return Verdict.ADMITTED

    def release(self, tenant: str, cost: int = 1) -> None:
        if cost < 1 or self._by_tenant[tenant] < cost:
            raise ValueError(f"release of {cost} without admit for {tenant!r}")
        self._by_tenant[tenant] -= cost
        if not self._by_tenant[tenant]:
            del self._by_tenant[tenant]
        self._inflight -= cost
