"""Forge's settings: the cluster to drive, node labels to read, prices and per-GPU shares."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
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
    # Other extended resources through which a pod could claim (part of) a GPU, e.g. MIG
    # slices (`nvidia.com/mig-1g.10gb`) under the mixed MIG strategy: a lease's quota holds
    # each at zero, since leases are sold in whole `gpu_resource` GPUs.
    denied_device_resources: list[str] = Field(default_factory=list)
    # GPU Feature Discovery's product label and the well-known region label.
    gpu_type_label: str = "nvidia.com/gpu.product"
    metro_label: str = "topology.kubernetes.io/region"
    # Nodes labelled `<simulated_label>=true` have no GPUs behind them (the local lab's fleet):
    # a lease placed on one says so in a `Simulated` condition.
    simulated_label: str = "volt.dev/simulated"
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
    # Whether leases of different orgs may hold GPUs on one node. Off by default: a node is one
    # kernel and one container runtime, so any node-level escape would cross tenants.
    share_nodes: bool = False
    # The validating admission webhook (admin/forge/webhook.py) refuses what RBAC and pod
    # security cannot: Service externalIPs (CVE-2020-8554), node ports and load balancers, and
    # NVIDIA_VISIBLE_DEVICES set by hand. Without a port there is no webhook and tenants may
    # only read Services.
    webhook_port: int | None = Field(None, ge=1, le=65535)
    webhook_host: str = "127.0.0.1"
    # How the API server reaches it, when not https://webhook_host:webhook_port (a Service).
    webhook_url: str | None = None
    # Its serving certificate and the CA the API server is given; without them a CA and a
    # certificate for webhook_host are made at start-up (one replica, the lab).
    webhook_cert_file: Path | None = None
    webhook_key_file: Path | None = None
    webhook_ca_file: Path | None = None
    # NodePort and LoadBalancer Services reach outside the lease's network policies; an
    # operator whose load balancers are tenant-safe may allow them. externalIPs never are.
    allow_external_services: bool = False
    min_duration_s: int = 60
    max_duration_s: int = 30 * 86_400
    reconcile_interval_s: float = 1.0
    # Active leases are re-checked (drift repaired) this often.
    resync_s: float = 30.0

    @model_validator(mode="after")
    def _webhook_pki_whole(self) -> Self:
        # Half a configuration would silently fall back to a made-up CA.
        files = (self.webhook_cert_file, self.webhook_key_file, self.webhook_ca_file)
        if any(f is not None for f in files) and not all(f is not None for f in files):
            raise ValueError(
                "VOLT_FORGE_WEBHOOK_CERT_FILE, _KEY_FILE and _CA_FILE go together or not at all"
            )
        return self
