"""vLLM's own engine metrics (`vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`,
`vllm:num_preemptions`, ...) on Spark's `/metrics`, beside `volt_spark_*`.

vLLM's Prometheus stat logger writes to prometheus_client's process-wide registry, and each new
engine unregisters the previous engine's `vllm:` metrics from it: with several engines in one
process only the last would remain. So each engine gets its own logger writing to a registry of
its own (`stat_logger`), and one collector in the service's registry (`EngineMetrics`) merges
their families at scrape time; the `model_name` label (the catalog id) tells them apart.

Usage: `AsyncLLM.from_engine_args(args, stat_loggers=[stat_logger(registry)])`, then
`service_registry.register(EngineMetrics(lambda: registries))`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

PREFIX = "vllm:"
# Families whose label values are not bounded by the catalog: the LoRA info gauge names the
# adapters running, and a fine-tuned model's name carries its org id (tenants are hostile to
# each other, and /metrics needs no key).
_DROPPED = frozenset({"vllm:lora_requests_info"})


def stat_logger(registry: CollectorRegistry) -> type[Any]:
    """A vLLM `PrometheusStatLogger` whose metrics live in `registry`, for `stat_loggers=`
    (vLLM wants a class, and calls it with the engine's config)."""
    from vllm.v1.metrics.loggers import PrometheusStatLogger

    # The metric classes are the logger's extension point (vLLM's Ray exporter swaps them the
    # same way); partials are not descriptors, so they are called without `self`.
    return type(
        "VoltPrometheusStatLogger",
        (PrometheusStatLogger,),
        {
            "_gauge_cls": functools.partial(Gauge, registry=registry),
            "_counter_cls": functools.partial(Counter, registry=registry),
            "_histogram_cls": functools.partial(Histogram, registry=registry),
        },
    )


class EngineMetrics(Collector):
    """Merges the `vllm:` families of every engine's registry into one family each."""

    def __init__(self, registries: Callable[[], Iterable[CollectorRegistry]]) -> None:
        self._registries = registries

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for registry in self._registries():
            for family in registry.collect():
                if not family.name.startswith(PREFIX) or family.name in _DROPPED:
                    continue
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                into.samples.extend(family.samples)
        yield from merged.values()

    def describe(self) -> list[Metric]:
        # Families appear as engines start: nothing to check against the registry up front.
        return []
