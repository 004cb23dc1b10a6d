"""Spark's settings (`VOLT_SPARK_*`); the model catalog it serves is `voltcore.catalog`."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SparkSettings(BaseSettings):
    """Usage: `SparkSettings()` reads `VOLT_SPARK_*`."""

    model_config = SettingsConfigDict(env_prefix="VOLT_SPARK_", extra="ignore")

    # GiB of KV cache per CPU engine (VLLM_CPU_KVCACHE_SPACE).
    kv_cache_gib: int = 1
    # Bounded admission: past these, requests get 503 (engine saturated) or 429 (this org's
    # share), with retry-after, instead of queueing without limit.
    max_inflight_per_model: int = 256
    max_inflight_per_org: int = 128
    # Run one short request per engine at start-up so that no user pays the first-call cost.
    warmup: bool = True
