"""The Kubernetes side of Forge, through the official client. Calls are blocking (urllib3), so
callers run them in a thread. Every write is idempotent: create, or patch to the desired state
if the object exists; deleting what is gone is success. KUBE_ERRORS is what a call raises when
the API server is away or failing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3.exceptions
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from admin.forge.config import ForgeSettings
from admin.forge.plan import LEASE_LABEL, Manifest, managed_labels
from scheduler.placement import GpuNode

# What "the API server is unreachable or failing" looks like from the client.
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)
PSP_GROUP = "/apis/policy/v1beta1"
PSP_PATH = f"{PSP_GROUP}/podsecuritypolicies"


class Kube:
    """Usage: `kube = Kube(path)`; `kube.apply(manifest)`; `kube.gpu_nodes(settings)`."""

    def __init__(self, kubeconfig: Path) -> None:
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)  # type: ignore[no-untyped-call]
        # Fail fast while the API server is away (the reconciler retries on its next pass)
        # rather than in urllib3's own retry loop.
        cfg.retries = 0
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.net = client.NetworkingV1Api(self.api)
        hooks = client.AdmissionregistrationV1Api(self.api)
        self._psp: bool | None = None
        self.server: str = cfg.host
        self.ca_pem: bytes = Path(cfg.ssl_ca_cert).read_bytes() if cfg.ssl_ca_cert else b""
        core, rbac, net = self.core, self.rbac, self.net
        # kind -> (create, patch), namespaced ones take the namespace first.
        self._writers: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
            "Namespace": (core.create_namespace, core.patch_namespace),
            "ResourceQuota": (
                core.create_namespaced_resource_quota,
                core.patch_namespaced_resource_quota,
            ),
            "LimitRange": (core.create_namespaced_limit_range, core.patch_namespaced_limit_range),
            "ServiceAccount": (
                core.create_namespaced_service_account,
                core.patch_namespaced_service_account,
            ),
            "NetworkPolicy": (
                net.create_namespaced_network_policy,
                net.patch_namespaced_network_policy,
            ),
            "Role": (rbac.create_namespaced_role, rbac.patch_namespaced_role),
            "RoleBinding": (
                rbac.create_namespaced_role_binding,
                rbac.patch_namespaced_role_binding,
            ),
            "ValidatingWebhookConfiguration": (
                hooks.create_validating_webhook_configuration,
                hooks.patch_validating_webhook_configuration,
            ),
            # The client has no PodSecurityPolicy models (removed in 1.25): plain REST calls.
            "PodSecurityPolicy": (
                lambda body: self._rest("POST", PSP_PATH, body),
                lambda name, body: self._rest("PATCH", f"{PSP_PATH}/{name}", body),
            ),
        }

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def gpu_nodes(self, settings: ForgeSettings) -> list[GpuNode]:
        """Schedulable nodes that advertise GPUs, with their metro and GPU product labels."""
        out = []
        nodes: list[Any] = self.core.list_node().items  # metadata is never None on read
        for node in nodes:
            labels = node.metadata.labels or {}
            allocatable = (node.status.allocatable or {}) if node.status else {}
            gpus = int(allocatable.get(settings.gpu_resource, 0) or 0)
            metro, gpu_type = labels.get(settings.metro_label), labels.get(settings.gpu_type_label)
            if gpus and metro and gpu_type and not (node.spec and node.spec.unschedulable):
                out.append(GpuNode(node.metadata.name, metro, gpu_type, gpus))
        return out

    def serves_psp(self) -> bool:
        """Whether this cluster has PodSecurityPolicy (before 1.25); from 1.25 the namespace's
        Pod Security Admission labels do its work."""
        if self._psp is None:
            try:
                found = self._rest("GET", PSP_GROUP)
            except ApiException as err:
                if err.status != 404:
                    raise
                found = {}
            resources = found.get("resources") or []
            self._psp = any(r.get("name") == "podsecuritypolicies" for r in resources)
        return self._psp

    def _rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON call by path (as kubernetes.dynamic does it); errors raise ApiException."""
        content = "application/merge-patch+json" if method == "PATCH" else "application/json"
        request = self.api.param_serialize(
            method,
            path,
            header_params={"Content-Type": content, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*request)
        data: bytes = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            self.api.response_deserialize(response, {})  # raises the status's ApiException
        return json.loads(data)

    def apply(self, manifest: Manifest) -> None:
        if manifest.kind == "PodSecurityPolicy" and not self.serves_psp():
            return
        create, patch = self._writers[manifest.kind]
        namespace = manifest.body["metadata"].get("namespace")
        args = (namespace,) if namespace else ()
        try:
            create(*args, body=manifest.body)
        except ApiException as err:
            if err.status != 409:
                raise
            patch(manifest.name, *args, body=manifest.body)

    def namespace_phase(self, name: str) -> str | None:
        """`Active`, `Terminating`, or None when the namespace does not exist."""
        try:
            namespace: Any = self.core.read_namespace(name)
            return str(namespace.status.phase)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def delete_namespace(self, name: str) -> None:
        try:
            self.core.delete_namespace(name)
        except ApiException as err:
            if err.status != 404:
                raise

    def quota_enforced(self, namespace: str) -> bool:
        """The quota controller has computed usage: from now on the quota admits or refuses."""
        quota = self.core.read_namespaced_resource_quota("forge-quota", namespace)
        return bool(quota.status and quota.status.hard)

    def label_node(self, node: str, key: str, value: str | None) -> None:
        """Set (or with None remove) one label; a node that is gone needs no label removed."""
        try:
            self.core.patch_node(node, {"metadata": {"labels": {key: value}}})
        except ApiException as err:
            if err.status != 404 or value is not None:
                raise

    def nodes_labelled(self, key: str) -> list[str]:
        nodes: list[Any] = self.core.list_node(label_selector=key).items
        return [str(n.metadata.name) for n in nodes]

    def managed_namespaces(self, installation: str) -> dict[str, str]:
        """Namespace -> lease id, for every namespace this installation of Forge made."""
        selector = ",".join(f"{k}={v}" for k, v in managed_labels(installation).items())
        namespaces: list[Any] = self.core.list_namespace(label_selector=selector).items
        return {str(ns.metadata.name): ns.metadata.labels.get(LEASE_LABEL, "") for ns in namespaces}

    def token(self, namespace: str, service_account: str, seconds: int) -> tuple[str, dt.datetime]:
        """A bound token from the TokenRequest API; it dies with the service account."""
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
        )
        out: Any = self.core.create_namespaced_service_account_token(
            service_account, namespace, request
        )
        return str(out.status.token), out.status.expiration_timestamp
