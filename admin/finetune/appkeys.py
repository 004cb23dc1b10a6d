"""Fine-tuning's app keys in the admin app: its settings and the base models it can train."""

from __future__ import annotations

from aiohttp import web

from finetune.config import FinetuneSettings
from voltcore.catalog import ModelSpec

FINETUNE_SETTINGS = web.AppKey("finetune_settings", FinetuneSettings)
# The catalog (`Settings.models_file`) by model id, read once at start: what `model` may name.
BASE_MODELS = web.AppKey("finetune_base_models", dict[str, ModelSpec])
