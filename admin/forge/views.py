"""Forge's API objects, rendered from the store's rows."""

from __future__ import annotations

from typing import Any

from admin.forge.store import Lease
from admin.tenancy import unix


def lease(row: Lease, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "forge.lease",
        "org_id": row.org_id,
        "status": row.status.value,
        "gpu_type": row.gpu_type,
        "gpu_count": row.gpu_count,
        "metro": row.metro,
        "duration_seconds": row.duration_s,
        "namespace": row.namespace,
        "nodes": [{"name": n, "gpus": g} for n, g in sorted(row.placement.items())],
        "price_per_gpu_hour": row.price_per_gpu_hour,
        "currency": currency,
        "created_at": unix(row.created_at),
        "started_at": unix(row.active_at),
        "expires_at": unix(row.expires_at),
        "terminated_at": unix(row.ended_at),
        "last_error": row.last_error,
        "conditions": row.conditions,
    }
