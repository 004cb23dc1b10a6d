"""vLLM engines embedded in the Spark process: one `AsyncLLM` per served model, continuous
batching inside vLLM, the engine core in its own process."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from inference.config import SparkSettings
from inference.engine_metrics import stat_logger
from inference.queue import EngineQueue
from scheduler.fairqueue import QueueLimits
from voltcore.catalog import ModelSpec, resolve

log = logging.getLogger(__name__)


def configure_vllm_environment(settings: SparkSettings) -> None:
    """Must run before vLLM is imported: it reads these once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(settings.kv_cache_gib))
    os.environ.setdefault("VLLM_CACHE_ROOT", str(Path.home() / ".cache" / "volt" / "vllm"))
    # Spark owns the process's logging; vLLM's own handler would print a second format.
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")


@dataclass
class Engine:
    """One model's engine, its tokenizer and its fair queue."""

    spec: ModelSpec
    llm: Any  # vllm.v1.engine.async_llm.AsyncLLM (kept untyped: vLLM is imported lazily)
    tokenizer: Any
    max_model_len: int
    queue: EngineQueue
    # The most sequences (prompts x n) one request may start, before the queue's own bound.
    max_sequences_per_request: int = 128
    created: int = field(default_factory=lambda: int(time.time()))
    # Sampling for fields a request leaves unset: the catalog's `sampling_defaults` over the
    # model's generation_config.json, as vLLM merges them (`params.sampling_params` applies it).
    sampling_defaults: dict[str, Any] = field(default_factory=dict)
    # This engine's own vLLM metrics (see inference.engine_metrics).
    stats: CollectorRegistry = field(default_factory=CollectorRegistry)

    @property
    def healthy(self) -> bool:
        return not self.llm.errored

    @property
    def unfinished_requests(self) -> int:
        return int(self.llm.get_num_unfinished_requests())

    @property
    def sequence_limit(self) -> int:
        """The most engine sequences one request may cost: past it, a 400."""
        return min(self.max_sequences_per_request, self.queue.limits.per_org)

    async def generate(
        self,
        prompt_ids: list[int],
        params: Any,
        request_id: str,
        lora: Any = None,
        *,
        cache_salt: str | None = None,
        priority: int = 0,
    ) -> AsyncIterator[Any]:
        """`cache_salt` partitions the prefix cache: a prompt only hits blocks cached under the
        same salt, so a tenant's `cached_tokens` (and TTFT) say nothing about other tenants.
        `priority` is the tier's (lower first): vLLM's priority scheduler runs it ahead of
        waiting requests of higher values, should any wait inside the engine."""
        prompt: dict[str, Any] = {"prompt_token_ids": prompt_ids}
        if cache_salt is not None:
            prompt["cache_salt"] = cache_salt
        async for out in self.llm.generate(
            prompt, params, request_id, lora_request=lora, priority=priority
        ):
            yield out

    def verify(self, params: Any) -> None:
        """vLLM's own checks of sampling parameters (a JSON schema its grammar backend cannot
        take, ...), which it would otherwise run only once the request reaches the engine:
        raises ValueError. Cheap next to generation; the engine repeats it."""
        config = self.llm.vllm_config
        params.verify(
            self.llm.model_config,
            config.speculative_config,
            config.structured_outputs_config,
            self.tokenizer,
        )

    async def embed(self, prompt_ids: list[int], request_id: str) -> Any:
        from vllm.pooling_params import PoolingParams

        final = None
        async for out in self.llm.encode(
            {"prompt_token_ids": prompt_ids}, PoolingParams(task="embed"), request_id
        ):
            final = out
        return final

    async def abort(self, request_id: str) -> None:
        await self.llm.abort(request_id)

    def shutdown(self) -> None:
        self.llm.shutdown()


def _engine_args(spec: ModelSpec) -> Any:
    from vllm import AsyncEngineArgs

    path = str(resolve(spec.path))
    common: dict[str, Any] = {
        "model": path,
        "served_model_name": spec.id,
        "dtype": spec.dtype,
        # torch.compile costs 100+ s at start and its cache does not survive restarts on CPU;
        # eager is as fast for these models (../shared/recipes/vllm-cpu.md).
        "enforce_eager": True,
        "max_model_len": spec.max_model_len,
        "disable_log_stats": False,  # per-request timestamps feed the volt block
        # The catalog's recommended sampling over the model's generation_config.json.
        "override_generation_config": spec.sampling_defaults.model_dump(exclude_none=True),
    }
    if spec.kind == "embedding":
        return AsyncEngineArgs(runner="pooling", **common)
    if spec.max_loras:
        # Fine-tuned models: vLLM loads a peft adapter on its first request and keeps the
        # `max_cpu_loras` most recently used ones resident.
        common.update(
            enable_lora=True,
            max_loras=spec.max_loras,
            max_lora_rank=spec.max_lora_rank,
            max_cpu_loras=spec.max_cpu_loras,
        )
    from vllm.config import StructuredOutputsConfig

    return AsyncEngineArgs(
        # Compact JSON under response_format: small models otherwise tend to emit whitespace
        # until max_tokens. (xgrammar reads this engine-wide, not per request.)
        structured_outputs_config=StructuredOutputsConfig(
            backend="xgrammar", disable_any_whitespace=True
        ),
        max_num_seqs=spec.max_num_seqs,
        # Tier priority among requests waiting inside the engine (Spark's queue keeps that
        # line short: it dispatches at most `max_num_seqs` sequences).
        scheduling_policy="priority",
        max_num_batched_tokens=spec.max_num_batched_tokens or max(2048, spec.max_model_len or 0),
        enable_prefix_caching=spec.enable_prefix_caching,
        **common,
    )


def queue_limits(spec: ModelSpec, settings: SparkSettings) -> QueueLimits:
    """An engine's seats are its batch, `max_num_seqs` sequences: Spark dispatches no more, so
    the engine's own first-come-first-served waiting line stays empty and Spark's fair order is
    the order that runs. (Pooling engines take the same count: vLLM batches them the same.)"""
    seats = spec.max_num_seqs
    reserved = min(math.ceil(seats * settings.queue_reserved_share), seats - 1)
    return QueueLimits(
        capacity=seats,
        max_queued=settings.queue_max_sequences,
        max_queued_per_org=settings.queue_max_sequences_per_org,
        timeout_s=settings.queue_timeout_s,
        reserved=reserved,
        hold_s=settings.queue_hold_ms / 1000,
        prompt_weight=settings.queue_prompt_weight,
        output_weight=settings.queue_output_weight,
        policy=settings.queue_policy,
    )


def start_engine(spec: ModelSpec, settings: SparkSettings) -> Engine:
    """Blocking (20-30 s on CPU): call it from a thread."""
    from vllm.v1.engine.async_llm import AsyncLLM

    started = time.monotonic()
    stats = CollectorRegistry()
    llm = AsyncLLM.from_engine_args(_engine_args(spec), stat_loggers=[stat_logger(stats)])
    engine = Engine(
        spec=spec,
        llm=llm,
        tokenizer=llm.get_tokenizer(),
        max_model_len=int(llm.model_config.max_model_len),
        queue=EngineQueue(spec.id, queue_limits(spec, settings)),
        max_sequences_per_request=settings.max_sequences_per_request,
        sampling_defaults=dict(llm.model_config.get_diff_sampling_param()),
        stats=stats,
    )
    log.info(
        "engine ready",
        extra={"model": spec.id, "kind": spec.kind, "seconds": round(time.monotonic() - started)},
    )
    return engine


async def warm_up(engine: Engine) -> None:
    """One tiny request, so the first user request does not pay the first-call cost."""
    request_id = f"warmup-{uuid.uuid4().hex}"
    ids = engine.tokenizer.encode("Hello")
    if engine.spec.kind == "embedding":
        await engine.embed(ids, request_id)
        return
    from vllm import SamplingParams

    async for _ in engine.generate(ids, SamplingParams(max_tokens=2), request_id):
        pass


async def start_engines(specs: list[ModelSpec], settings: SparkSettings) -> dict[str, Engine]:
    configure_vllm_environment(settings)
    engines: dict[str, Engine] = {}
    try:
        for spec in specs:  # one at a time: two cores gain nothing from parallel start-up
            engines[spec.id] = await asyncio.to_thread(start_engine, spec, settings)
            if settings.warmup:
                await warm_up(engines[spec.id])
    except BaseException:
        for engine in engines.values():
            engine.shutdown()
        raise
    return engines
