"""One Spark for the whole session: admin and Spark on one base URL (the embedded default's
shape), with real vLLM CPU engines for the tiny model, SmolLM2 and MiniLM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest_asyncio
from aiohttp import web

from admin.app import install as install_admin
from inference.app import install as install_spark
from inference.appkeys import ENGINES
from inference.config import SparkSettings
from inference.engine import Engine
from tests.conftest import serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.service import base_app

TINY, SMOL, MINILM = "volt-tiny", "smollm2-135m-instruct", "all-minilm-l6-v2"


@dataclass
class Spark:
    app: web.Application
    base: str

    def engine(self, model: str) -> Engine:
        return self.app[ENGINES][model]


@pytest_asyncio.fixture(scope="session")
async def spark(settings: Settings) -> AsyncIterator[Spark]:
    app = base_app(
        settings.model_copy(
            update={"service_name": "volt-spark", "pod": "spark-test-0", "metro": "fra1"}
        )
    )
    install_admin(app)
    install_spark(app, SparkSettings(models_file=Path(__file__).with_name("models.yaml")))
    runner, base = await serve(app)
    yield Spark(app, base)
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session")
async def api(spark: Spark, spec: Spec) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        yield Client(session, spark.base, spec)
