"""Forge's settings: the cluster to drive, node labels to read, prices and per-GPU shares."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ForgeSettings(BaseSettings):
    """Usage: `ForgeSettings()` reads `VOLT_FORGE_*`; without a kubeconfig Forge answers 503."""

    model_config = SettingsConfigDict(env_prefix="VOLT_FORGE_", extra="ignore")

    # Admin credentials the reconciler uses; tenants only ever get namespace-scoped tokens.
    kubeconfig: Path | None = None
    # Marks what this control plane made, so that several can share a cluster and each
    # collects only its own orphans.
    installation: str = Field("volt", pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    gpu_resource: str = "nvidia.com/gpu"
    # GPU Feature Discovery's product label and the well-known region label.
    gpu_type_label: str = "nvidia.com/gpu.product"
    metro_label: str = "topology.kubernetes.io/region"
    # USD per GPU-hour by GPU type (the product label's value).
    prices: dict[str, float] = Field(
        default_factory=lambda: {
            "NVIDIA-H100-80GB-HBM3": 2.49,
            "NVIDIA-A100-SXM4-80GB": 1.29,
            "NVIDIA-L40S": 0.99,
        }
    )
    currency: str = "usd"
    # A lease's namespace quota: CPU and memory in proportion to its GPUs.
    cpu_per_gpu: int = 8
    memory_gib_per_gpu: int = 64
    min_duration_s: int = 60
    max_duration_s: int = 30 * 86_400
    reconcile_interval_s: float = 1.0
    # Active leases are re-checked (drift repaired) this often.
    resync_s: float = 30.0
