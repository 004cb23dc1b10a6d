"""The volt-spark aiohttp application: OpenAI-compatible inference on embedded vLLM engines."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

from aiohttp import web

from inference import chat, completions, embeddings, models_api, responses, tokenize
from inference.appkeys import ENGINES, FINE_TUNED, SPARK_METRICS, SPARK_SETTINGS
from inference.config import SparkSettings
from inference.engine import start_engines
from inference.engine_metrics import EngineMetrics
from inference.lora import FineTunedModels
from inference.metrics import SparkMetrics
from voltcore.appkeys import METRICS, POOL, READY_CHECKS, SETTINGS
from voltcore.catalog import load_models
from voltcore.config import Settings
from voltcore.service import base_app


async def engines_ctx(app: web.Application) -> AsyncIterator[None]:
    engines = await start_engines(load_models(app[SETTINGS].models_file), app[SPARK_SETTINGS])
    app[ENGINES] = engines
    # What start-up made (configs, tokenizers, engine clients) lives as long as the process:
    # frozen, it is no longer rescanned by every garbage collection on the request path.
    gc.collect()
    gc.freeze()
    yield
    for engine in engines.values():
        engine.shutdown()


async def fine_tuned_ctx(app: web.Application) -> AsyncIterator[None]:
    app[FINE_TUNED] = FineTunedModels(app[POOL], app[SETTINGS].artifacts)
    yield


async def engines_check(app: web.Application) -> str:
    failed = [model for model, engine in app[ENGINES].items() if not engine.healthy]
    return f"failed: {', '.join(failed)}" if failed else "ok"


def install(app: web.Application, settings: SparkSettings | None = None) -> None:
    """Add Spark's routes and engines (the catalog's models, `Settings.models_file`) to a Volt
    app; without `settings`, `SparkSettings()` from the environment."""
    app[SPARK_SETTINGS] = settings or SparkSettings()
    app[SPARK_METRICS] = SparkMetrics(app[METRICS].registry)
    # vLLM's own engine metrics, read from each engine at scrape time.
    app[METRICS].registry.register(
        EngineMetrics(lambda: [e.stats for e in app.get(ENGINES, {}).values()])
    )
    app[READY_CHECKS]["engines"] = engines_check
    app.cleanup_ctx.extend([engines_ctx, fine_tuned_ctx])
    for module in (chat, completions, embeddings, models_api, responses, tokenize):
        app.router.add_routes(module.routes)


def create_app(settings: Settings, spark: SparkSettings) -> web.Application:
    """Usage: `create_app(Settings(), SparkSettings())`."""
    app = base_app(settings)
    install(app, spark)
    return app
