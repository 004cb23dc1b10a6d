"""An admin service whose fine-tuning catalog is the random-weight tiny model (training takes
a fraction of a second a step), and workers on the same database and artifact store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from admin.app import install as install_admin
from finetune.config import FinetuneSettings
from finetune.worker import Worker
from tests.conftest import serve
from tests.support.client import Client
from tests.support.openapi import Spec
from voltcore.config import Settings
from voltcore.db import Pool
from voltcore.service import base_app

TINY = "volt-tiny"


@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "models.yaml"
    path.write_text(
        "models:\n"
        f"  - {{id: {TINY}, kind: chat, path: volt-tiny, tiers: [standard], max_model_len: 256,\n"
        "     max_loras: 1}\n"
    )
    return path


@pytest.fixture(scope="session")
def ft_settings() -> FinetuneSettings:
    return FinetuneSettings(heartbeat_s=0.2, lost_after_s=1.5, poll_s=0.1, max_seq_len=128)


@pytest.fixture(scope="session")
def ft_catalog_settings(settings: Settings, tiny_catalog: Path) -> Settings:
    """The session's settings with the tiny catalog, for admin and the workers alike."""
    return settings.model_copy(update={"models_file": tiny_catalog})


@pytest_asyncio.fixture(scope="session")
async def ft_api(
    ft_catalog_settings: Settings, ft_settings: FinetuneSettings, spec: Spec
) -> AsyncIterator[Client]:
    app = base_app(ft_catalog_settings)
    install_admin(app, finetune_settings=ft_settings)
    runner, base = await serve(app)
    async with aiohttp.ClientSession() as session:
        yield Client(session, base, spec)
    await runner.cleanup()


MakeWorker = Callable[..., Worker]


@pytest.fixture
def make_worker(
    pool: Pool, ft_catalog_settings: Settings, ft_settings: FinetuneSettings
) -> MakeWorker:
    def make(name: str | None = None, **overrides: Any) -> Worker:
        return Worker(
            pool, ft_catalog_settings, ft_settings.model_copy(update=overrides), name=name
        )

    return make


async def until_idle(worker: Worker, limit: int = 50) -> None:
    """Tick until there is nothing left to do."""
    for _ in range(limit):
        if not await worker.tick():
            return
    raise AssertionError("the worker never ran out of work")
