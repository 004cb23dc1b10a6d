"""Forge's local lab: the Kubernetes control plane the tests use (lab/kube.py, built once from
Debian's source and cached) with a simulated GPU fleet registered as Node objects from
lab/fleet.yaml. Usage: `async with forge_lab(directory, progress) as settings:` then run Forge
on `settings` (a kubeconfig and the fleet's prices)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field

from admin.forge.config import ForgeSettings
from lab.kube import KubeCluster, build_or_locate
from lab.ports import free_port

log = logging.getLogger(__name__)

FLEET = Path(__file__).with_name("fleet.yaml")
# scripts/kubernetes.sh's own steps: `[kubernetes] 10:39:24 +0s <step>`.
_BUILD_STEP = re.compile(r"^\[kubernetes\] \S+ \+\d+s (.+)$")


class FleetGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metro: str = Field(pattern=r"^[a-z0-9-]+$")
    gpu_type: str = Field(min_length=1)  # the GPU Feature Discovery product label's value
    gpus_per_node: int = Field(ge=1, le=16)
    nodes: int = Field(ge=1, le=16)
    price_per_gpu_hour: float = Field(gt=0)

    def node_names(self) -> list[str]:
        # NVIDIA-H100-80GB-HBM3 -> h100: the model, as people name the machines.
        model = re.sub(r"[^a-z0-9]+", "", self.gpu_type.split("-")[1].lower())
        return [f"lab-{self.metro}-{model}-{i}" for i in range(self.nodes)]


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: list[FleetGroup] = Field(min_length=1)

    @classmethod
    def load(cls, path: Path = FLEET) -> Fleet:
        return cls.model_validate(yaml.safe_load(path.read_text()))

    @property
    def prices(self) -> dict[str, float]:
        return {g.gpu_type: g.price_per_gpu_hour for g in self.groups}


def register(kubeconfig: Path, fleet: Fleet, settings: ForgeSettings) -> list[str]:
    """Create (or bring back to the file's shape) one Node per simulated machine, reporting its
    capacity by hand as a kubelet would. Blocking; returns the node names."""
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))  # type: ignore[no-untyped-call]
    names = []
    for group in fleet.groups:
        labels: dict[str, str] = {
            settings.metro_label: group.metro,
            settings.gpu_type_label: group.gpu_type,
            settings.simulated_label: "true",
        }
        capacity = {
            settings.gpu_resource: str(group.gpus_per_node),
            "cpu": str(group.gpus_per_node * settings.cpu_per_gpu * 2),
            "memory": f"{group.gpus_per_node * settings.memory_gib_per_gpu * 2}Gi",
            "pods": "110",
        }
        for name in group.node_names():
            try:
                node: dict[str, Any] = {"metadata": {"name": name, "labels": labels}}
                api.create_node(node)  # type: ignore[arg-type]
            except ApiException as err:
                if err.status != 409:
                    raise
                api.patch_node(name, {"metadata": {"labels": labels}})
            api.patch_node_status(name, {"status": {"capacity": capacity, "allocatable": capacity}})
            names.append(name)
    return names


@contextlib.asynccontextmanager
async def forge_lab(
    directory: Path, progress: Callable[[str], None], fleet: Fleet | None = None
) -> AsyncIterator[ForgeSettings]:
    """The control plane in `directory` (kept across restarts: its etcd holds the namespaces of
    leases), the fleet registered, and the ForgeSettings to run Forge with. `progress` hears
    each step and the build's own lines."""
    fleet = fleet or Fleet.load()
    progress("locating the Kubernetes binaries (the first run builds them, about 12 minutes)")

    def build_line(line: str) -> None:
        # The build script's own steps are progress; make's and apt's output is detail.
        if step := _BUILD_STEP.match(line):
            progress(step[1])
        else:
            log.debug(line)

    bin_dir = await asyncio.to_thread(build_or_locate, build_line)
    progress("starting etcd, kube-apiserver and kube-controller-manager")
    cluster = KubeCluster(bin_dir, directory, persistent=True)
    await asyncio.to_thread(cluster.start)
    try:
        # The admission webhook listens in this process; its port is new on each start and
        # the reconciler re-registers it with the API server on its first pass.
        settings = ForgeSettings(
            kubeconfig=cluster.admin_kubeconfig, prices=fleet.prices, webhook_port=free_port()
        )
        progress("registering the simulated GPU fleet")
        nodes = await asyncio.to_thread(register, cluster.admin_kubeconfig, fleet, settings)
        progress(f"ready: {len(nodes)} simulated nodes at {cluster.server}")
        yield settings
    finally:
        await asyncio.to_thread(cluster.stop)
