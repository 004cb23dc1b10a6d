"""Forge's local lab: the control plane of lab/kube.py with lab/fleet.yaml's simulated GPU nodes.
Forge runs on it as `volt-admin run` runs it: availability is the fleet at its prices, a lease
goes active with a `Simulated` condition, a minted kubeconfig lists the lease's pods, and a
restart on the same directory keeps the cluster's data and the kubeconfigs minted before. While
the lab starts, Forge answers 503 `forge_starting` and readiness names it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client, config

from admin.app import install as install_admin
from admin.bootstrap import bootstrap_org
from admin.forge.config import ForgeSettings
from admin.forge.install import running
from lab.forge import Fleet, forge_lab
from tests.conftest import serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.appkeys import POOL, STARTING
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.service import base_app

pytestmark = pytest.mark.slow


@asynccontextmanager
async def admin_on(settings: Settings, spec: Spec) -> AsyncIterator[tuple[Client, Any]]:
    """An admin service with Forge off at start-up, as the run command has it before its lab."""
    app = base_app(settings)
    install_admin(app)
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            yield Client(http, base, spec), app
    finally:
        await runner.cleanup()


def fast(settings: ForgeSettings) -> ForgeSettings:
    return settings.model_copy(update={"reconcile_interval_s": 0.2, "resync_s": 1.0})


async def wait_active(api: Client, key: str, lease_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        lease = (await api.get(f"/v1/forge/leases/{lease_id}", key=key)).json()
        if lease["status"] == "active":
            return lease  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, lease
        await asyncio.sleep(0.2)


def pods(kubeconfig: str, namespace: str, tmp: Path) -> list[Any]:
    path = tmp / "tenant.kubeconfig"
    path.write_text(kubeconfig)
    api = client.CoreV1Api(config.new_client_from_config(str(path)))
    try:
        return list(api.list_namespaced_pod(namespace).items)
    finally:
        api.api_client.close()


async def test_lab_serves_forge_and_survives_a_restart(
    tmp_path: Path, fresh_db: tuple[str, Pool], settings: Settings, spec: Spec
) -> None:
    dsn, _ = fresh_db  # this Forge reconciles every lease in its database: it must own them
    settings = settings.model_copy(update={"database_url": dsn})
    fleet, steps = Fleet.load(), list[str]()
    async with admin_on(settings, spec) as (api, app):
        org = await bootstrap_org(
            app[POOL],
            name="Lab",
            tier="standard",
            metro="fra1",
            admin_email="a@lab.example",
            trust_domain=settings.trust_domain,
        )
        key = org.api_key

        # Starting: Forge says so, with when to ask again; readiness names it, yet is ready.
        app[STARTING]["forge"] = "building Kubernetes"
        refused = await api.get("/v1/forge/availability", key=key)
        assert refused.status == 503, refused.body
        assert refused.json()["error"]["code"] == "forge_starting"
        assert "building Kubernetes" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) > 0
        ready = await api.get("/health/ready")
        assert ready.status == 200
        assert ready.json()["starting"] == {"forge": "building Kubernetes"}

        async with forge_lab(tmp_path / "forge", steps.append, fleet) as lab_settings:
            del app[STARTING]["forge"]
            async with running(app, fast(lab_settings)):
                rows = (await api.get("/v1/forge/availability", key=key)).json()["data"]
                assert {(r["metro"], r["gpu_type"]): r["total_gpus"] for r in rows} == {
                    (g.metro, g.gpu_type): g.gpus_per_node * g.nodes for g in fleet.groups
                }
                assert {r["gpu_type"]: r["price_per_gpu_hour"] for r in rows} == fleet.prices

                group = fleet.groups[0]
                created = await api.post(
                    "/v1/forge/leases",
                    key=key,
                    json={
                        "gpu_type": group.gpu_type,
                        "gpu_count": 1,
                        "metro": group.metro,
                        "duration_seconds": 3600,
                    },
                )
                assert created.status == 202, created.body
                lease = await wait_active(api, key, created.json()["id"])
                simulated = [c for c in lease["conditions"] if c["type"] == "Simulated"]
                assert simulated and simulated[0]["status"] == "True", lease["conditions"]
                assert lease["nodes"][0]["name"] in group.node_names()

                minted = await api.post(
                    f"/v1/forge/leases/{lease['id']}/kubeconfig", key=key, json={}
                )
                assert minted.status == 201, minted.body
                kubeconfig = minted.json()["kubeconfig"]
                assert await asyncio.to_thread(pods, kubeconfig, lease["namespace"], tmp_path) == []

        # The same directory again: the cluster's data and its CA are kept, so the kubeconfig
        # minted before still works and the lease's namespace is still there.
        async with forge_lab(tmp_path / "forge", steps.append, fleet) as again:
            assert again.kubeconfig == lab_settings.kubeconfig
            assert await asyncio.to_thread(pods, kubeconfig, lease["namespace"], tmp_path) == []

    assert any("registering the simulated GPU fleet" in s for s in steps), steps
    assert any(s.startswith("ready:") for s in steps), steps
