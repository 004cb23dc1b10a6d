"""A dead engine makes /health/ready fail and its requests get 503 with a clear message."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import psutil
import pytest

from admin.app import install as install_admin
from inference.app import install as install_spark
from inference.appkeys import ENGINES
from inference.config import SparkSettings
from tests.conftest import Org, serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.service import base_app

pytestmark = pytest.mark.slow


async def test_engine_death_is_visible_and_refused(
    settings: Settings, org: Org, spec: Spec
) -> None:
    tiny = Path(__file__).with_name("models-tiny.yaml")
    app = base_app(settings.model_copy(update={"models_file": tiny}))
    install_admin(app)
    install_spark(app, SparkSettings(warmup=False))
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    runner, base = await serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            api = Client(session, base, spec)
            assert (await api.get("/health/ready")).status == 200
            # Kill the engine core this app started (not the session's engines).
            for proc in psutil.Process(os.getpid()).children(recursive=True):
                if proc.pid not in before:
                    proc.kill()
            engine = app[ENGINES]["volt-tiny"]
            async with asyncio.timeout(30):
                while engine.healthy:
                    await asyncio.sleep(0.1)
            ready = await api.get("/health/ready")
            assert ready.status == 503
            assert ready.json()["checks"]["engines"] == "failed: volt-tiny"
            r = await api.post(
                "/v1/chat/completions",
                key=org.key,
                json={"model": "volt-tiny", "messages": [{"role": "user", "content": "hi"}]},
            )
            error = r.expect_error(503, "engine_unavailable")
            assert "volt-tiny" in error["message"] and r.headers["retry-after"]
            assert (await api.get("/health/live")).status == 200
    finally:
        await runner.cleanup()
