"""The admission policy and plan, without a cluster: what the webhook refuses under each
setting, what a lease's namespace and Role hold with and without the webhook, and the webhook's
HTTPS endpoint (its own CA) answering AdmissionReviews and refusing malformed ones with a 400.
The same refusals through the real API server are in test_pod_security.py."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from admin.forge.admission import refusal
from admin.forge.config import ForgeSettings
from admin.forge.plan import (
    PSA_LABELS,
    WEBHOOK_PATH,
    cluster_manifests,
    lease_manifests,
    namespace_for,
)
from admin.forge.webhook import serving, webhook_tls
from lab.ports import free_ports

LEASE = "lease_abc"


def svc(**spec: Any) -> dict[str, Any]:
    return {"spec": {"ports": [{"port": 80}], **spec}}


@pytest.mark.parametrize("allow", [False, True])
def test_external_ips_are_never_allowed(allow: bool) -> None:
    reason = refusal("Service", svc(externalIPs=["8.8.8.8"]), allow_external_services=allow)
    assert reason is not None and "externalIPs" in reason


def test_node_ports_and_load_balancers_only_when_the_operator_allows() -> None:
    for kind in ("NodePort", "LoadBalancer"):
        reason = refusal("Service", svc(type=kind), allow_external_services=False)
        assert reason is not None and kind in reason
        assert refusal("Service", svc(type=kind), allow_external_services=True) is None
    assert refusal("Service", svc(type="ClusterIP"), allow_external_services=False) is None
    assert refusal("Service", svc(), allow_external_services=False) is None


@pytest.mark.parametrize("field", ["containers", "initContainers", "ephemeralContainers"])
def test_visible_devices_env_is_refused_in_every_container(field: str) -> None:
    env = [{"name": "A", "value": "1"}, {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    pod = {"spec": {"containers": [{"name": "ok"}], field: [{"name": "c", "env": env}]}}
    reason = refusal("Pod", pod, allow_external_services=True)
    assert reason is not None and f"spec.{field}[0].env[1]" in reason
    clean = {"spec": {"containers": [{"name": "c", "env": env[:1]}]}}
    assert refusal("Pod", clean, allow_external_services=False) is None


def test_tenants_write_services_only_behind_the_webhook() -> None:
    def services_verbs(settings: ForgeSettings) -> list[str]:
        (role,) = [
            m
            for m in lease_manifests(LEASE, "org_a", 1, settings)
            if m.name == "tenant" and m.kind == "Role"
        ]
        return [v for r in role.body["rules"] if "services" in r["resources"] for v in r["verbs"]]

    assert services_verbs(ForgeSettings()) == ["get", "list", "watch"]
    assert services_verbs(ForgeSettings(webhook_port=9443)) == ["*"]
    assert [m.kind for m in cluster_manifests(ForgeSettings(), None)] == ["PodSecurityPolicy"]
    hooked = cluster_manifests(ForgeSettings(webhook_port=9443), b"CA")
    assert [m.kind for m in hooked] == ["PodSecurityPolicy", "ValidatingWebhookConfiguration"]
    (hook,) = hooked[1].body["webhooks"]
    assert hook["failurePolicy"] == "Fail"  # a dead webhook blocks writes, never waves them on
    assert hook["clientConfig"]["url"] == f"https://127.0.0.1:9443{WEBHOOK_PATH}"


def test_lease_namespace_is_restricted_and_its_accounts_bound_to_the_policy() -> None:
    manifests = lease_manifests(LEASE, "org_a", 1, ForgeSettings())
    ns = namespace_for(LEASE)
    labels = manifests[0].body["metadata"]["labels"]
    assert PSA_LABELS.items() <= labels.items()
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    (binding,) = [m for m in manifests if m.kind == "RoleBinding" and m.name != "tenant"]
    assert binding.body["subjects"] == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Group",
            "name": f"system:serviceaccounts:{ns}",
        }
    ]


async def test_webhook_answers_reviews_over_its_own_tls_and_refuses_bad_input() -> None:
    (port,) = free_ports(1)
    settings = ForgeSettings(webhook_port=port, allow_external_services=True)
    tls = webhook_tls(settings)
    trust = ssl.create_default_context(cadata=tls.ca_pem.decode())
    url = f"https://127.0.0.1:{port}{WEBHOOK_PATH}"

    def review(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u-1", "kind": {"kind": kind}, "object": obj},
        }

    async with serving(settings, tls), aiohttp.ClientSession() as http:
        async with http.post(url, json=review("Service", svc(type="NodePort")), ssl=trust) as r:
            assert (await r.json())["response"] == {"uid": "u-1", "allowed": True}
        async with http.post(
            url, json=review("Service", svc(externalIPs=["1.1.1.1"])), ssl=trust
        ) as r:
            answer = (await r.json())["response"]
            assert answer["allowed"] is False and answer["status"]["code"] == 403
        for bad in (b"not json", b"{}", b'{"request": {"uid": "x"}}'):
            async with http.post(url, data=bad, ssl=trust) as r:
                assert r.status == 400
                assert (await r.json())["error"]["param"] == "request"
        # Only the CA Volt hands the API server vouches for it.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.post(url, json={}, ssl=ssl.create_default_context())


def test_pods_may_not_pick_their_node() -> None:
    pod = {"spec": {"nodeName": "fra1-h100-1", "containers": [{"name": "c"}]}}
    reason = refusal("Pod", pod, allow_external_services=True)
    assert reason is not None and "nodeName" in reason


def test_denied_device_resources_are_held_at_zero() -> None:
    mig = "nvidia.com/mig-1g.10gb"
    settings = ForgeSettings(denied_device_resources=[mig])
    (quota,) = [
        m for m in lease_manifests(LEASE, "org_a", 2, settings) if m.kind == "ResourceQuota"
    ]
    assert quota.body["spec"]["hard"][f"requests.{mig}"] == "0"
    assert quota.body["spec"]["hard"]["requests.nvidia.com/gpu"] == "2"


def test_webhook_certificates_are_configured_whole(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        ForgeSettings(webhook_port=9443, webhook_cert_file=tmp_path / "tls.crt")
