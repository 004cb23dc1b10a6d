"""Bounded admission to an engine: a global cap and a per-tenant cap on requests in flight.

Past the engine's cap the request is refused (503, the service is saturated) rather than queued
without limit; past a tenant's cap only that tenant is refused (429), so one tenant cannot take
every slot. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ADMITTED = "admitted"
    SATURATED = "saturated"
    TENANT_LIMIT = "tenant_limit"


@dataclass(frozen=True)
class Limits:
    max_inflight: int
    max_inflight_per_tenant: int


class Admission:
    """Usage: `if admission.try_admit(org) is Verdict.ADMITTED: ... finally release(org)`."""

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

    def try_admit(self, tenant: str) -> Verdict:
        if self._by_tenant[tenant] >= self.limits.max_inflight_per_tenant:
            return Verdict.TENANT_LIMIT
        if self._inflight >= self.limits.max_inflight:
            return Verdict.SATURATED
        self._by_tenant[tenant] += 1
        self._inflight += 1
        return Verdict.ADMITTED

    def release(self, tenant: str) -> None:
        if self._by_tenant[tenant] <= 0:
            raise ValueError(f"release without admit for {tenant!r}")
        self._by_tenant[tenant] -= 1
        if not self._by_tenant[tenant]:
            del self._by_tenant[tenant]
        self._inflight -= 1
