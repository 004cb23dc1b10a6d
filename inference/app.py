"""The volt-spark aiohttp application: OpenAI-compatible inference on embedded vLLM engines."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator

from aiohttp import web

from inference import chat, completions, embeddings, models_api, responses, tokenize
from inference.appkeys import (
    ENGINES,
    FINE_TUNED,
    RATE_LIMITER,
    SPARK_METRICS,
    SPARK_PATHS,
    SPARK_SETTINGS,
)
from inference.config import SparkSettings
from inference.engine import Engine, start_engines
from inference.engine_metrics import EngineMetrics
from inference.lora import FineTunedModels
from inference.metrics import SparkMetrics
from inference.ratelimit import RATE_HEADERS, RateLimiter
from voltcore.appkeys import METRICS, POOL, PRINCIPAL, READY_CHECKS, SETTINGS
from voltcore.catalog import load_models
from voltcore.config import Settings
from voltcore.service import base_app


async def engines_ctx(app: web.Application) -> AsyncIterator[None]:
    engines = await start_engines(load_models(app[SETTINGS].models_file), app[SPARK_SETTINGS])
    app[ENGINES] = engines
    for engine in engines.values():
        # Read at scrape time, through the engine (tests may give it a smaller queue).
        app[SPARK_METRICS].watch_queue(engine.spec.id, functools.partial(_depth, engine))
    # What start-up made (configs, tokenizers, engine clients) lives as long as the process:
    # frozen, it is no longer rescanned by every garbage collection on the request path.
    gc.collect()
    gc.freeze()
    yield
    for engine in engines.values():
        engine.shutdown()


def _depth(engine: Engine) -> float:
    return engine.queue.depth


async def fine_tuned_ctx(app: web.Application) -> AsyncIterator[None]:
    app[FINE_TUNED] = FineTunedModels(app[POOL], app[SETTINGS].artifacts)
    yield


async def rate_limiter_ctx(app: web.Application) -> AsyncIterator[None]:
    app[RATE_LIMITER] = RateLimiter(app[POOL], app[SETTINGS].tiers)
    yield
    await app[RATE_LIMITER].drain()


async def rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """OpenAI's `x-ratelimit-*` on every authenticated Spark response: an admitted request's
    from its admission (a stream's head, an error after admission), anything else's from the
    caller's window as it stands; a refusal carries its own."""
    if "x-ratelimit-limit-requests" in response.headers:
        return
    found = request.get(RATE_HEADERS)
    principal = request.get(PRINCIPAL)
    if found is None and principal is not None and _is_spark(request):
        found = await request.app[RATE_LIMITER].peek(principal)
    response.headers.update(found or {})


def _is_spark(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical in request.app[SPARK_PATHS]


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
    app.cleanup_ctx.extend([engines_ctx, fine_tuned_ctx, rate_limiter_ctx])
    app.on_response_prepare.append(rate_headers)
    spark = (chat, completions, embeddings, models_api, responses, tokenize)
    for module in spark:
        app.router.add_routes(module.routes)
    # Admin's routes share the app on the embedded default: only these carry rate-limit headers.
    app[SPARK_PATHS] = frozenset(
        r.path for module in spark for r in module.routes if isinstance(r, web.RouteDef)
    )


def create_app(settings: Settings, spark: SparkSettings) -> web.Application:
    """Usage: `create_app(Settings(), SparkSettings())`."""
    app = base_app(settings)
    install(app, spark)
    return app
