"""Health probes."""

from __future__ import annotations

from volt.types.common import VoltModel


class Health(VoltModel):
    status: str
    # One entry per dependency, `ok` when healthy (readiness only).
    checks: dict[str, str] | None = None
