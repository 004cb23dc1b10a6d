"""A real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager built from
Debian's source by scripts/kubernetes.sh) with GPU nodes, and an admin service driving it.
Registered as fixtures by tests/conftest.py so that Forge's and the SDK's tests share them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from kubernetes import client, config

from admin.app import install as install_admin
from admin.forge.config import ForgeSettings
from lab.kube import KubeCluster, build_or_locate
from lab.ports import free_ports
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.service import base_app

H100, A100 = "NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB"
MIG = "nvidia.com/mig-1g.10gb"  # a MIG slice: another way to claim part of a GPU
# metro, GPU type, GPUs per node, nodes
FLEET = [("fra1", H100, 8, 2), ("ams1", A100, 4, 1)]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    kube = KubeCluster(build_or_locate(), tmp_path_factory.mktemp("kube"))
    kube.start()
    api = client.CoreV1Api(config.new_client_from_config(str(kube.admin_kubeconfig)))
    for metro, gpu_type, gpus, count in FLEET:
        for i in range(count):
            name = f"{metro}-{gpu_type.split('-')[1].lower()}-{i}"
            api.create_node(
                {
                    "metadata": {
                        "name": name,
                        "labels": {
                            "topology.kubernetes.io/region": metro,
                            "nvidia.com/gpu.product": gpu_type,
                        },
                    }
                }
            )
            # No kubelet runs here: the node's capacity is reported by hand, as it would.
            capacity = {"nvidia.com/gpu": str(gpus), "cpu": "96", "memory": "1Ti", "pods": "110"}
            api.patch_node_status(name, {"status": {"capacity": capacity, "allocatable": capacity}})
    yield kube
    kube.stop()


def forge_settings(cluster: KubeCluster, **overrides: Any) -> ForgeSettings:
    return ForgeSettings(
        kubeconfig=cluster.admin_kubeconfig, reconcile_interval_s=0.2, resync_s=1.0, **overrides
    )


def forge_service_settings(cluster: KubeCluster) -> ForgeSettings:
    """The admin service's: with its admission webhook on a free loopback port."""
    (port,) = free_ports(1)
    return forge_settings(cluster, webhook_port=port, denied_device_resources=[MIG])


@dataclass
class ForgeService:
    app: web.Application
    api: Client
    cluster: KubeCluster


@pytest_asyncio.fixture(scope="session")
async def forge(
    cluster: KubeCluster, settings: Settings, spec: Spec
) -> AsyncIterator[ForgeService]:
    from tests.conftest import serve  # here: tests/conftest.py imports this module

    app = base_app(settings)
    install_admin(app, forge_service_settings(cluster))
    runner, base = await serve(app)
    async with aiohttp.ClientSession() as session:
        yield ForgeService(app, Client(session, base, spec), cluster)
    await runner.cleanup()


def tenant_api(kubeconfig_yaml: str, tmp: Path) -> client.CoreV1Api:
    path = tmp / "tenant.kubeconfig"
    path.write_text(kubeconfig_yaml)
    return client.CoreV1Api(config.new_client_from_config(str(path)))
