"""Typed keys of Spark's shared resources."""

from __future__ import annotations

from aiohttp import web

from inference.config import SparkSettings
from inference.engine import Engine
from inference.lora import FineTunedModels
from inference.metrics import SparkMetrics

SPARK_SETTINGS = web.AppKey("spark_settings", SparkSettings)
ENGINES = web.AppKey("engines", dict[str, Engine])
SPARK_METRICS = web.AppKey("spark_metrics", SparkMetrics)
# The orgs' fine-tuned models, served as LoRA adapters on their base models' engines.
FINE_TUNED = web.AppKey("fine_tuned", FineTunedModels)
