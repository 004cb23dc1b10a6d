"""Spark's settings (`VOLT_SPARK_*`); the model catalog it serves is `voltcore.catalog`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SparkSettings(BaseSettings):
    """Usage: `SparkSettings()` reads `VOLT_SPARK_*`."""

    model_config = SettingsConfigDict(env_prefix="VOLT_SPARK_", extra="ignore")

    # GiB of KV cache per CPU engine (VLLM_CPU_KVCACHE_SPACE).
    kv_cache_gib: int = 1
    # Bounded admission, counted in engine sequences (a completions request of 3 prompts with
    # n=2 costs 6): past these, requests get 503 (engine saturated) or 429 (this org's share),
    # with retry-after, instead of queueing without limit.
    max_inflight_per_model: int = Field(256, ge=1)
    max_inflight_per_org: int = Field(128, ge=1)
    # An org's in-flight sequences on a generating engine also stay within this share of the
    # engine's batch (the catalog's `max_num_seqs`), so that other orgs always find seats in
    # the running batch instead of waiting behind one org's queue.
    max_org_share_of_batch: float = Field(0.5, gt=0.0, le=1.0)
    # Per-request bounds, checked before anything is tokenized (OpenAI's own caps: `n` <= 128,
    # 2048 embedding inputs). prompts x n is further bounded by what admission could ever take.
    max_prompts_per_request: int = Field(2048, ge=1)
    max_sequences_per_request: int = Field(128, ge=1)
    max_embedding_inputs: int = Field(2048, ge=1)
    # Bodies with more text than this are tokenized and chat-templated in a worker thread: the
    # tokenizer takes seconds on megabytes, which would stall every other request's stream.
    inline_tokenize_chars: int = Field(16_384, ge=0)
    # Run one short request per engine at start-up so that no user pays the first-call cost.
    warmup: bool = True
