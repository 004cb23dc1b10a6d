"""Vault's place in the admin app: settings, the sealer, the inventory load, the reconciler
task and the HTTP session that talks to node attestation agents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from admin.vault.config import VaultSettings
from admin.vault.reconciler import Reconciler
from admin.vault.sealing import Sealer, new_key
from voltcore.appkeys import AUDIT, POOL, SETTINGS

log = logging.getLogger(__name__)


@dataclass
class Vault:
    settings: VaultSettings
    sealer: Sealer
    reconciler: Reconciler
    agents: aiohttp.ClientSession
    task: asyncio.Task[None] | None = None


VAULT = web.AppKey("vault", Vault)
VAULT_SETTINGS = web.AppKey("vault_settings", VaultSettings)


def _local_key(path: Path) -> str:
    """The embedded default's key, kept beside its database (0600). Production configures
    VOLT_VAULT_SECRET_KEYS from a secret store instead, so that a copy of the data directory
    alone opens nothing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key())
    log.warning("vault secrets sealed with the local key file", extra={"path": str(path)})
    return path.read_text().strip()


async def vault_ctx(app: web.Application) -> AsyncIterator[None]:
    """Without an inventory Vault stays off and its endpoints answer 503."""
    settings = app[VAULT_SETTINGS]
    if settings.inventory is None:
        yield
        return
    keys = [k.get_secret_value() for k in settings.secret_keys]
    sealer = Sealer(keys or [_local_key(app[SETTINGS].data_dir / "vault-secret.key")])
    pool = app[POOL]
    audit = app[AUDIT].add if AUDIT in app else (lambda _entry: None)
    reconciler = Reconciler(pool, sealer, settings, audit, app[SETTINGS].service_name)
    await reconciler.load_inventory()  # a broken file at start is an error, not a warning
    agents = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.agent_timeout_s), raise_for_status=False
    )
    vault = Vault(settings, sealer, reconciler, agents, asyncio.create_task(reconciler.run()))
    app[VAULT] = vault
    yield
    assert vault.task is not None
    vault.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await vault.task
    await agents.close()
