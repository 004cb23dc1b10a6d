"""Fine-tuning's wiring into the admin app: settings, the base-model catalog and the Files and
jobs routes. No background loop runs here: the workers (`volt-finetune`) do the work."""

from __future__ import annotations

from aiohttp import web

from admin.finetune import files, jobs
from admin.finetune.appkeys import BASE_MODELS, FINETUNE_SETTINGS
from finetune.config import FinetuneSettings
from voltcore.appkeys import SETTINGS
from voltcore.catalog import by_id


def install(app: web.Application, settings: FinetuneSettings | None = None) -> None:
    """Usage: `install(app)` on a `base_app`; tests pass `FinetuneSettings(...)`."""
    app[FINETUNE_SETTINGS] = settings or FinetuneSettings()
    app[BASE_MODELS] = by_id(app[SETTINGS].models_file)
    for module in (files, jobs):
        app.router.add_routes(module.routes)
