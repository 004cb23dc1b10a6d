"""The Kubernetes peer that Forge's tests run against: a real control plane, driven with the
official `kubernetes` client, including the controller-manager (namespace deletion finishes)
and an API server outage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lab.kube import KubeCluster, build_or_locate


def wait_until_gone(core: client.CoreV1Api, namespace: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespace(namespace)
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.2)
    raise TimeoutError(f"namespace {namespace} still exists after {timeout}s")


@pytest.mark.slow
def test_control_plane(tmp_path: Path) -> None:
    with KubeCluster(build_or_locate(), tmp_path) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.admin_kubeconfig))
        core = client.CoreV1Api(api)

        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="forge-t")))
        # No kubelet: the node exists only as an API object, its status given at creation.
        gpus = {"nvidia.com/gpu": "8", "cpu": "64", "memory": "512Gi"}
        core.create_node(
            client.V1Node(
                metadata=client.V1ObjectMeta(name="gpu-node-1", labels={"volt/pool": "h100"}),
                status=client.V1NodeStatus(capacity=gpus, allocatable=gpus),
            )
        )
        nodes = core.list_node(label_selector="volt/pool=h100").items
        assert [n.metadata.name for n in nodes] == ["gpu-node-1"]
        assert nodes[0].status.allocatable["nvidia.com/gpu"] == "8"

        # Deletion only completes once the namespace controller has emptied and finalized it.
        core.delete_namespace("forge-t")
        wait_until_gone(core, "forge-t")

        # An outage and recovery on the same address and credentials; etcd keeps the state.
        cluster.stop_apiserver()
        with pytest.raises(Exception, match=r"(?i)connect|refused|max retries"):
            client.CoreV1Api(api).list_node(_request_timeout=2)
        cluster.start_apiserver()
        assert [n.metadata.name for n in core.list_node().items] == ["gpu-node-1"]
