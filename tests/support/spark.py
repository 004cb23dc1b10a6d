"""One Spark for the whole session: admin and Spark on one base URL (the embedded default's
shape), with real vLLM CPU engines for the tiny model, SmolLM2 and MiniLM. Registered as
fixtures by tests/conftest.py so that every test directory shares the one instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest_asyncio
from aiohttp import web

from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.service import base_app

if TYPE_CHECKING:
    from inference.engine import Engine

TINY, SMOL, MINILM = "volt-tiny", "smollm2-135m-instruct", "all-minilm-l6-v2"
MODELS_FILE = Path(__file__).resolve().parents[1] / "inference" / "models.yaml"


@dataclass
class Spark:
    app: web.Application
    base: str

    def engine(self, model: str) -> Engine:
        from inference.appkeys import ENGINES

        return self.app[ENGINES][model]


@pytest_asyncio.fixture(scope="session")
async def spark(settings: Settings) -> AsyncIterator[Spark]:
    # Imported here: collecting a test that never asks for engines should not load vLLM.
    from admin.app import install as install_admin
    from inference.app import install as install_spark
    from tests.conftest import serve

    # One catalog for the whole app: Spark's engines and admin's fine-tunable base models.
    app = base_app(
        settings.model_copy(
            update={
                "service_name": "volt-spark",
                "pod": "spark-test-0",
                "metro": "fra1",
                "models_file": MODELS_FILE,
            }
        )
    )
    install_admin(app)
    install_spark(app)
    runner, base = await serve(app)
    yield Spark(app, base)
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session")
async def api(spark: Spark, spec: Spec) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        yield Client(session, spark.base, spec)
