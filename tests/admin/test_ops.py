"""Liveness, readiness (database reachable), Prometheus metrics and the served spec."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml

from admin.app import create_app
from tests.conftest import REPO, Org, serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import EmbeddedPostgres


async def test_health(client: Client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_metrics_count_requests_by_route_template(client: Client, org: Org) -> None:
    await client.get(f"/v1/orgs/{org.id}/api-keys", key=org.key)
    text = (await client.get("/metrics")).body.decode()
    assert 'route="/v1/orgs/{org_id}/api-keys"' in text
    assert "volt_http_request_duration_seconds_bucket" in text
    assert "volt_writer_written_events_total" in text
    assert org.id not in text and org.key not in text  # ids and secrets never become labels


async def test_spec_is_served(client: Client) -> None:
    r = await client.get("/openapi.yaml")
    assert r.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(r.body) == yaml.safe_load((REPO / "openapi.yaml").read_text())


@pytest.mark.slow
async def test_ready_fails_when_the_database_is_gone(tmp_path: Path, spec: Spec) -> None:
    pg = await EmbeddedPostgres.start(tmp_path / "pg")
    app = create_app(Settings(database_url=pg.uri, data_dir=tmp_path))
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, base, spec)
            assert (await client.get("/health/ready")).status == 200
            await pg.stop()
            r = await client.get("/health/ready")
            assert r.status == 503 and r.json()["status"] == "unavailable"
            assert (await client.get("/health/live")).status == 200
    finally:
        await runner.cleanup()
