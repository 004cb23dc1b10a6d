"""Spark's settings (`VOLT_SPARK_*`); the model catalog it serves is `voltcore.catalog`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SparkSettings(BaseSettings):
    """Usage: `SparkSettings()` reads `VOLT_SPARK_*`."""

    model_config = SettingsConfigDict(env_prefix="VOLT_SPARK_", extra="ignore")

    # GiB of KV cache per CPU engine (VLLM_CPU_KVCACHE_SPACE).
    kv_cache_gib: int = 1
    # Each engine's fair queue (scheduler/fairqueue.py), counted in engine sequences (a
    # completions request of 3 prompts with n=2 costs 6). Seats: the engine's batch
    # (`max_num_seqs`). Past them requests wait, at most this many per engine (then 503) and per
    # org (then 429), each at most `queue_timeout_s` (then 503), all with retry-after.
    queue_max_sequences: int = Field(1024, ge=0)
    queue_max_sequences_per_org: int = Field(256, ge=0)
    queue_timeout_s: float = Field(30.0, gt=0)
    # The share of an engine's seats that no single org may hold, so that another org's request
    # finds a seat at once instead of waiting for work already started (dispatch cannot preempt).
    queue_reserved_share: float = Field(0.125, ge=0.0, lt=1.0)
    # How long a seat freed by an org below its fair share is held for that org's next request
    # (anticipatory scheduling) before it goes to the line; 0, the default, turns holding off:
    # beside the reserved seats it bought no TTFT (benchmarks/RESULTS.md).
    queue_hold_ms: float = Field(0.0, ge=0.0)
    # VTC's charge per prompt and per generated token (Sheng et al. 2024 use 1 and 2).
    queue_prompt_weight: float = Field(1.0, ge=0.0)
    queue_output_weight: float = Field(2.0, ge=0.0)
    # `fcfs`: one line in arrival order, no reserve, no holding (the benchmark's baseline).
    queue_policy: Literal["fair", "fcfs"] = "fair"
    # Per-request bounds, checked before anything is tokenized (OpenAI's own caps: `n` <= 128,
    # 2048 embedding inputs). prompts x n is further bounded by the seats one org may hold.
    max_prompts_per_request: int = Field(2048, ge=1)
    max_sequences_per_request: int = Field(128, ge=1)
    max_embedding_inputs: int = Field(2048, ge=1)
    # Bodies with more text than this are tokenized and chat-templated in a worker thread: the
    # tokenizer takes seconds on megabytes, which would stall every other request's stream.
    inline_tokenize_chars: int = Field(16_384, ge=0)
    # Run one short request per engine at start-up so that no user pays the first-call cost.
    warmup: bool = True
