"""Spark's Prometheus metrics, in the service's registry. Labels are bounded: model ids come
from the catalog, tiers and endpoints are fixed sets; never a prompt, key or org id."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class SparkMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "volt_spark_requests_total",
            "Inference requests by outcome.",
            ["model", "tier", "endpoint", "outcome"],
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "volt_spark_prompt_tokens_total",
            "Prompt tokens processed.",
            ["model", "tier"],
            registry=registry,
        )
        self.completion_tokens = Counter(
            "volt_spark_completion_tokens_total",
            "Tokens generated.",
            ["model", "tier"],
            registry=registry,
        )
        self.ttft = Histogram(
            "volt_spark_time_to_first_token_seconds",
            "Arrival to first generated token.",
            ["model", "tier"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.inter_token = Histogram(
            "volt_spark_inter_token_latency_seconds",
            "Mean time between tokens, per request.",
            ["model", "tier"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.queue = Histogram(
            "volt_spark_queue_seconds",
            "Time waiting before being scheduled: in Spark's fair queue, then in the engine.",
            ["model", "tier"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "volt_spark_fair_queue_wait_seconds",
            "Time waiting in Spark's fair queue for a seat in the engine (0 when one was free).",
            ["model", "tier"],
            buckets=_LATENCY,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "volt_spark_fair_queue_depth",
            "Engine sequences waiting in Spark's fair queue.",
            ["model"],
            registry=registry,
        )
        self.inflight = Gauge(
            "volt_spark_inflight_requests",
            "Requests admitted and not finished.",
            ["model"],
            registry=registry,
        )
        self.rejected = Counter(
            "volt_spark_rejected_total",
            "Requests refused by the fair queue: org_queue_full (429), engine_queue_full and "
            "queue_timeout (503), too_large (400).",
            ["model", "reason"],
            registry=registry,
        )

    def watch_queue(self, model: str, depth: Callable[[], float]) -> None:
        """The depth gauge reads the queue when scraped (bound once per engine at start-up)."""
        self.queue_depth.labels(model).set_function(depth)
