"""Typed keys of Spark's shared resources."""

from __future__ import annotations

from aiohttp import web

from inference.config import SparkSettings
from inference.engine import Engine
from inference.lora import FineTunedModels
from inference.metrics import SparkMetrics
from inference.ratelimit import RateLimiter

SPARK_SETTINGS = web.AppKey("spark_settings", SparkSettings)
ENGINES = web.AppKey("engines", dict[str, Engine])
SPARK_METRICS = web.AppKey("spark_metrics", SparkMetrics)
# The orgs' fine-tuned models, served as LoRA adapters on their base models' engines.
FINE_TUNED = web.AppKey("fine_tuned", FineTunedModels)
# Requests and tokens per minute per org and key, shared by every replica (inference.ratelimit).
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
# The paths of Spark's own routes (admin's share the app on the embedded default).
SPARK_PATHS = web.AppKey("spark_paths", frozenset)
