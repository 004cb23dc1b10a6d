"""`volt-admin run`, the embedded default: admin and Spark on one URL over embedded Postgres, a
fresh demo org, and for every production counterpart left unconfigured a local lab in its place,
honestly labelled as one: a Kubernetes control plane with simulated GPU nodes for Forge, the
Redfish emulator with software TPMs for Vault, an OIDC provider for sign-in. A deployment that
configures a cluster (VOLT_FORGE_KUBECONFIG), an inventory (VOLT_VAULT_INVENTORY) or identity
providers (VOLT_OIDC_PROVIDERS) gets exactly what it configured.

Start-up order: the database, the demo org, sign-in and Vault's lab (seconds) before the app
serves; Forge's lab (its first run builds Kubernetes, minutes) in the background, during which
Forge answers 503 `forge_starting` and /health/ready names it under `starting`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from admin import examples
from admin.app import create_app
from admin.bootstrap import Bootstrapped, bootstrap_org
from admin.finetune.embedded import worker_ctx as finetune_worker_ctx
from admin.forge.appkeys import FORGE_SETTINGS
from admin.forge.install import running
from admin.signin.appkeys import OIDC_SETTINGS
from admin.vault.appkeys import VAULT_SETTINGS
from lab.forge import Fleet, forge_lab
from lab.signin import LocalIdp
from lab.vault import VaultLab
from voltcore.appkeys import POOL, SETTINGS, STARTING
from voltcore.catalog import load_models
from voltcore.config import Settings
from voltcore.service import run
from voltcore.tasks import background

log = logging.getLogger(__name__)


@dataclass
class Labs:
    """What the run command started, for its examples: the demo org and each lab it started."""

    demo: Bootstrapped
    idp: LocalIdp | None = None
    vault: VaultLab | None = None
    forge: Fleet | None = None


LABS = web.AppKey("labs", Labs)


def say(text: str) -> None:
    """The run command talks to the person at the terminal on stdout (logs go to stderr)."""
    print(text, flush=True)


async def _forge(app: web.Application, directory: Path, fleet: Fleet) -> None:
    """Forge's lab, then Forge on it until the app stops. Each step is printed and is what
    readiness and Forge's 503s say meanwhile. A lab that fails to start leaves Forge
    unavailable, saying why, and the rest of Volt serving."""

    def hear(step: str) -> None:
        app[STARTING]["forge"] = step
        say(f"  forge lab: {step}")

    try:
        async with forge_lab(directory, hear, fleet) as settings, running(app, settings):
            del app[STARTING]["forge"]
            first = fleet.groups[0]
            say(examples.forge(first.metro, first.gpu_type))
            await asyncio.Event().wait()  # until the app stops and cancels this task
    except Exception as err:  # whatever broke, the rest of Volt keeps serving
        app[STARTING].pop("forge", None)
        log.exception("forge lab failed to start")
        say(f"  forge lab: failed ({type(err).__name__}: {err}); Forge stays unavailable")


async def labs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs after the database and before Forge, Vault and sign-in read their settings."""
    settings = app[SETTINGS]
    root = settings.data_dir / "lab"
    labs = app[LABS] = Labs(
        await bootstrap_org(
            app[POOL],
            name="Demo",
            tier="standard",
            metro=settings.metro,
            admin_email=LocalIdp.EMAIL,
            trust_domain=settings.trust_domain,
        )
    )
    async with contextlib.AsyncExitStack() as stack:
        if not app[OIDC_SETTINGS].providers:
            labs.idp = idp = await stack.enter_async_context(LocalIdp(root / "signin"))
            app[OIDC_SETTINGS] = app[OIDC_SETTINGS].model_copy(
                update={"providers": [idp.provider(labs.demo.org_id)]}
            )
        if app[VAULT_SETTINGS].inventory is None:
            say("  vault lab: starting the Redfish emulator, software TPMs and node agents")
            vault_lab = VaultLab(root / "vault", say=lambda line: say(f"  {line}"))
            labs.vault = vault = await stack.enter_async_context(vault_lab)
            app[VAULT_SETTINGS] = vault.settings
        if app[FORGE_SETTINGS].kubeconfig is None:
            app[STARTING]["forge"] = "queued"
            labs.forge = Fleet.load()
            forge = _forge(app, root / "forge", labs.forge)
            await stack.enter_async_context(background(forge, name="forge-lab"))
        yield


def _announce(
    settings: Settings, model: str | None
) -> Callable[[web.Application], Awaitable[None]]:
    async def announce(app: web.Application) -> None:
        # on_startup runs after the cleanup contexts: pool, labs and engines are ready.
        base, labs = f"http://{settings.host}:{settings.port}", app[LABS]
        text = examples.header(base, labs.demo) + examples.tenancy(labs.demo.org_id)
        if model is not None:
            text += examples.spark(model)
        if labs.idp is not None:
            text += examples.signin(base, labs.idp.USER, labs.idp.EMAIL)
        if labs.vault is not None:
            text += examples.vault(*labs.vault.example_rack)
        if labs.forge is not None and "forge" in app[STARTING]:
            text += examples.FORGE_STARTING
        say(text + examples.footer(str(settings.data_dir)))

    return announce


def serve(settings: Settings) -> None:
    app = create_app(settings, configure=labs_ctx)
    # Spark's engines and routes in this process, one base URL.
    from inference.app import install as install_spark

    install_spark(app)
    model = next((m.id for m in load_models(settings.models_file) if m.kind == "chat"), None)
    app.on_startup.append(_announce(settings, model))
    # Fine-tuning jobs need a worker: one runs beside the embedded default.
    app.cleanup_ctx.append(finetune_worker_ctx)
    sys.stdout.flush()
    run(app, settings)
