"""Fine-tuning's place in the admin app: its settings and the base models it can train."""

from __future__ import annotations

from aiohttp import web

from admin.finetune.config import FinetuneSettings
from inference.config import ModelSpec

FINETUNE_SETTINGS = web.AppKey("finetune_settings", FinetuneSettings)
# Spark's catalog by model id, read once at start: what `model` may name.
BASE_MODELS = web.AppKey("finetune_base_models", dict[str, ModelSpec])


def install(app: web.Application, settings: FinetuneSettings | None = None) -> None:
    settings = settings or FinetuneSettings()
    app[FINETUNE_SETTINGS] = settings
    app[BASE_MODELS] = settings.catalog()
