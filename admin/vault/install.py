"""Vault in the admin app: its settings, routes and the cleanup context that opens the sealer,
loads the inventory, runs the reconciler and holds the agents' HTTP session while the app runs."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from admin.subsystems import Slot
from admin.vault import routes
from admin.vault.appkeys import VAULT, VAULT_SETTINGS, Vault
from admin.vault.config import VaultSettings
from admin.vault.enrolment import load_cas
from admin.vault.reconciler import Reconciler
from admin.vault.sealing import Sealer, new_key
from voltcore.appkeys import AUDIT, POOL, SETTINGS
from voltcore.tasks import background

log = logging.getLogger(__name__)


def install(app: web.Application, settings: VaultSettings | None = None) -> None:
    """Usage: `install(app)` reads `VOLT_VAULT_*`; without an inventory Vault answers 503."""
    app[VAULT_SETTINGS] = settings or VaultSettings()
    app[VAULT] = Slot("Vault", "no inventory")
    app.cleanup_ctx.append(vault_ctx)
    app.router.add_routes(routes.routes)


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
    audit = app[AUDIT].add if AUDIT in app else (lambda _entry: None)
    reconciler = Reconciler(app[POOL], sealer, settings, audit, app[SETTINGS].service_name)
    await reconciler.load_inventory()  # a broken file at start is an error, not a warning
    ek_cas = () if settings.ek_ca_bundle is None else load_cas(settings.ek_ca_bundle)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.agent_timeout_s), raise_for_status=False
    ) as agents:
        app[VAULT].value = Vault(settings, sealer, agents, reconciler.wake, ek_cas)
        try:
            async with background(reconciler.run(), name="vault-reconciler"):
                yield
        finally:
            app[VAULT].value = None
