"""Session-wide peers: one real PostgreSQL (pgserver), one admin service on a real TCP port,
and a client that checks every response against openapi.yaml."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from hypothesis import settings as hypothesis_settings

from admin.app import create_app
from admin.bootstrap import bootstrap_org
from tests.support.client import Client
from tests.support.forge import cluster, forge  # noqa: F401 (session fixtures shared by every directory)
from tests.support.openapi import Spec
from tests.support.spark import api, spark  # noqa: F401 (as above)
from voltcore.appkeys import SETTINGS
from voltcore.config import Settings
from voltcore.db import EmbeddedPostgres, Pool, create_pool, migrate
from voltcore.service import handler_options

# Property tests check logic, not speed: on a busy 2-core CI machine a slow example is no bug.
hypothesis_settings.register_profile("volt", deadline=None)
hypothesis_settings.load_profile("volt")


@pytest.fixture(scope="session")
def spec() -> Spec:
    return Spec()


@pytest_asyncio.fixture(scope="session")
async def pg_uri(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    pg = await EmbeddedPostgres.start(tmp_path_factory.mktemp("pg") / "data")
    yield pg.uri
    await pg.stop()


@pytest.fixture(scope="session")
def settings(pg_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=pg_uri,
        data_dir=tmp_path_factory.mktemp("volt"),
        flush_interval_s=0.05,
        max_body_bytes=64 * 1024,
    )


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    # As `volt-admin serve` serves it (voltcore.service.run), with the app's own settings (a
    # peer's app, which has none, with the defaults).
    runner = web.AppRunner(app, **handler_options(app.get(SETTINGS) or Settings()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture(scope="session")
async def admin_app(settings: Settings) -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(settings)
    runner, base = await serve(app)
    yield app, base
    await runner.cleanup()


@pytest_asyncio.fixture(scope="session")
async def pool(admin_app: tuple[web.Application, str], pg_uri: str) -> AsyncIterator[Pool]:
    # Its own pool, not the app's: tests inspect the database the way an operator would.
    p = await create_pool(pg_uri, max_size=4)
    yield p
    await p.close()


@pytest_asyncio.fixture(scope="session")
async def client(admin_app: tuple[web.Application, str], spec: Spec) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, admin_app[1], spec)


@pytest_asyncio.fixture
async def fresh_db(pool: Pool, pg_uri: str) -> AsyncIterator[tuple[str, Pool]]:
    """A new, migrated database on the shared server, for tests that must own all its rows."""
    name = f"t_{secrets.token_hex(6)}"
    await pool.execute(f"CREATE DATABASE {name}")
    dsn = pg_uri.replace("/postgres?", f"/{name}?", 1)
    db = await create_pool(dsn, max_size=2)
    await migrate(db)
    yield dsn, db
    await db.close()
    await pool.execute(f"DROP DATABASE {name} WITH (FORCE)")


@dataclass(frozen=True)
class Org:
    id: str
    key: str
    key_id: str
    spiffe_id: str


MakeOrg = Callable[..., Awaitable[Org]]


@pytest.fixture
def make_org(pool: Pool, settings: Settings) -> MakeOrg:
    """A fresh org with an admin key, so tests never share tenants."""

    async def make(name: str = "Acme", tier: str = "standard") -> Org:
        b = await bootstrap_org(
            pool,
            name=name,
            tier=tier,
            metro="fra1",  # type: ignore[arg-type]
            admin_email="admin@acme.example",
            trust_domain=settings.trust_domain,
        )
        return Org(b.org_id, b.api_key, b.api_key_id, b.spiffe_id)

    return make


@pytest_asyncio.fixture
async def org(make_org: MakeOrg) -> Org:
    return await make_org()


REPO = Path(__file__).resolve().parents[1]
