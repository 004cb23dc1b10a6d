"""The volt-admin aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from admin.console.install import install as install_console
from admin.finetune.install import install as install_finetune
from admin.forge.config import ForgeSettings
from admin.forge.install import install as install_forge
from admin.routes import api_keys, audit, limits, orgs, usage
from admin.signin.install import install as install_signin
from admin.vault.config import VaultSettings
from admin.vault.install import install as install_vault
from finetune.config import FinetuneSettings
from voltcore import idempotency
from voltcore.config import Settings
from voltcore.service import base_app


def install(
    app: web.Application,
    forge_settings: ForgeSettings | None = None,
    finetune_settings: FinetuneSettings | None = None,
    vault_settings: VaultSettings | None = None,
) -> None:
    """Add the control plane's routes (and the Forge and Vault reconcilers) to a Volt app."""
    install_forge(app, forge_settings)
    install_vault(app, vault_settings)
    install_finetune(app, finetune_settings)
    install_signin(app)
    install_console(app)
    # Forge, Vault and fine-tuning POSTs take Idempotency-Keys; expired ones are swept here.
    app.cleanup_ctx.append(idempotency.sweep_ctx)
    for module in (orgs, limits, api_keys, usage, audit):
        app.router.add_routes(module.routes)


CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, *, configure: CleanupCtx | None = None) -> web.Application:
    """Usage: `web.run_app(create_app(Settings()))`.

    `configure` starts after the database and before every product: it may replace the
    settings they read at start-up (what the embedded default's labs do)."""
    app = base_app(settings)
    if configure is not None:
        app.cleanup_ctx.append(configure)
    install(app)
    return app
