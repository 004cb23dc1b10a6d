"""Spark's settings and its model catalog file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voltcore.config import Tier

REPO = Path(__file__).resolve().parents[1]


class ModelSpec(BaseModel):
    """One served model. Usage: an entry of `models:` in the models file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
    kind: Literal["chat", "embedding"]
    path: str
    tiers: list[Tier] = Field(min_length=1)
    max_model_len: int | None = Field(None, ge=16)
    max_num_seqs: int = Field(64, ge=1)
    dtype: str = "bfloat16"
    max_num_batched_tokens: int | None = Field(None, ge=16)
    # None keeps vLLM's default for the platform.
    enable_prefix_caching: bool | None = None
    # LoRA serving for fine-tuned models: adapters in one batch (0 turns LoRA off, and with it
    # fine-tuning this model), the largest rank accepted, and how many adapters stay loaded
    # (least recently used ones are evicted; None: vLLM's default, `max_loras`).
    max_loras: int = Field(0, ge=0)
    max_lora_rank: Literal[8, 16, 32, 64] = 16
    max_cpu_loras: int | None = Field(None, ge=1)


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(min_length=1)


def load_models(path: Path) -> list[ModelSpec]:
    specs = ModelsFile.model_validate(yaml.safe_load(path.read_text())).models
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate model ids in {ids}")
    return specs


class SparkSettings(BaseSettings):
    """Usage: `SparkSettings()` reads `VOLT_SPARK_*`."""

    model_config = SettingsConfigDict(env_prefix="VOLT_SPARK_", extra="ignore")

    models_file: Path = REPO / "models.yaml"
    # GiB of KV cache per CPU engine (VLLM_CPU_KVCACHE_SPACE).
    kv_cache_gib: int = 1
    # Bounded admission: past these, requests get 503 (engine saturated) or 429 (this org's
    # share), with retry-after, instead of queueing without limit.
    max_inflight_per_model: int = 256
    max_inflight_per_org: int = 128
    # Run one short request per engine at start-up so that no user pays the first-call cost.
    warmup: bool = True
