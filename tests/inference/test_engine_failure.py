"""A dead engine: a stream it was generating ends with an error event (no `[DONE]`), a plain
request in flight gets a 503 error body, /health/ready fails, and new requests get 503 with a
clear message, each naming the pod."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import orjson
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
            long = {
                "model": "volt-tiny",
                "max_tokens": 900,
                "messages": [{"role": "user", "content": "count"}],
            }
            auth = {"Authorization": f"Bearer {org.key}"}
            plain = asyncio.create_task(api.post("/v1/chat/completions", key=org.key, json=long))
            stream = await session.post(
                f"{base}/v1/chat/completions", json={**long, "stream": True}, headers=auth
            )
            responses = await session.post(
                f"{base}/v1/responses",
                json={
                    "model": "volt-tiny",
                    "input": "count",
                    "max_output_tokens": 900,
                    "stream": True,
                },
                headers=auth,
            )
            heads = []
            for began in (stream, responses):
                assert began.status == 200
                heads.append(await began.content.readuntil(b"\n\n"))  # the stream has begun
            # Kill the engine core this app started (not the session's engines).
            for proc in psutil.Process(os.getpid()).children(recursive=True):
                if proc.pid not in before:
                    proc.kill()
            events = [e for e in (await stream.read()).decode().split("\n\n") if e.strip()]
            assert events[-1] != "data: [DONE]", events[-2:]
            last = orjson.loads(events[-1].removeprefix("data: "))
            assert last["error"]["code"] == "engine_unavailable", last
            assert last["volt"]["pod"] == "volt-local-0", last
            spec.validate_event("/v1/chat/completions", last)
            # The Responses API's own way: an error event, then response.failed.
            body = heads[1] + await responses.read()
            spec.validate_response("POST", "/v1/responses", 200, "text/event-stream", body)
            assert b"event: error" in body and b"event: response.failed" in body, body[-300:]
            assert b"engine_unavailable" in body
            (await plain).expect_error(503, "engine_unavailable")
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
