"""The volt-admin aiohttp application."""

from __future__ import annotations

from aiohttp import web

from admin.console.install import install_signin
from admin.finetune import files as ft_files
from admin.finetune import jobs as ft_jobs
from admin.finetune.appkeys import install as install_finetune
from admin.finetune.config import FinetuneSettings
from admin.forge import routes as forge
from admin.forge.appkeys import FORGE_SETTINGS, forge_ctx
from admin.forge.config import ForgeSettings
from admin.routes import api_keys, audit, orgs, usage
from admin.vault import routes as vault
from admin.vault.appkeys import VAULT_SETTINGS, vault_ctx
from admin.vault.config import VaultSettings
from voltcore.config import Settings
from voltcore.service import base_app


def install(
    app: web.Application,
    forge_settings: ForgeSettings | None = None,
    finetune_settings: FinetuneSettings | None = None,
    vault_settings: VaultSettings | None = None,
) -> None:
    """Add the control plane's routes (and the Forge and Vault reconcilers) to a Volt app."""
    app[FORGE_SETTINGS] = forge_settings or ForgeSettings()
    app[VAULT_SETTINGS] = vault_settings or VaultSettings()
    app.cleanup_ctx.extend([forge_ctx, vault_ctx])
    install_finetune(app, finetune_settings)
    install_signin(app)
    for module in (orgs, api_keys, usage, audit, forge, vault, ft_files, ft_jobs):
        app.router.add_routes(module.routes)


def create_app(settings: Settings) -> web.Application:
    """Usage: `web.run_app(create_app(Settings()))`."""
    app = base_app(settings)
    install(app)
    return app
