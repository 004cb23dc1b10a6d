"""Prometheus metrics of one service, in a registry of its own (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Usage: `metrics = Metrics("volt-admin")`; `metrics.requests.labels(...).inc()`."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.requests = Counter(
            "volt_http_requests_total",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "volt_http_request_duration_seconds",
            "Time to produce the response, by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.buffered = Gauge(
            "volt_writer_buffered_events",
            "Events waiting in a batched writer.",
            ["writer"],
            registry=self.registry,
        )
        self.written = Counter(
            "volt_writer_written_events_total",
            "Events a batched writer stored.",
            ["writer"],
            registry=self.registry,
        )
        self.dropped = Counter(
            "volt_writer_dropped_events_total",
            "Events a batched writer dropped because its buffer was full.",
            ["writer"],
            registry=self.registry,
        )
        self.write_errors = Counter(
            "volt_writer_errors_total",
            "Failed batch writes (retried).",
            ["writer"],
            registry=self.registry,
        )
