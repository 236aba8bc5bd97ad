"""Prometheus metrics of one app: requests, latencies, scores served and the model version."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS_S: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ServingMetrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self._model_version: str | None = None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadscore_http_requests",
            "HTTP requests by route template, method and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "leadscore_http_request_duration_seconds",
            "HTTP request latency by route template",
            ("method", "route"),
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.scores = Counter(
            "leadscore_scores_served",
            "Lead scores served, by what served them (score, explanation, queue, lead_detail)",
            ("endpoint",),
            registry=self.registry,
        )
        self.queues = Counter(
            "leadscore_queues_served", "Daily queues built", registry=self.registry
        )
        self.ingested = Counter(
            "leadscore_ingested_items",
            "Ingested leads and events by outcome",
            ("kind", "status"),
            registry=self.registry,
        )
        self.model_info = Gauge(
            "leadscore_model_info",
            "The model version being served (value 1)",
            ("version",),
            registry=self.registry,
        )
        self.reloads = Counter(
            "leadscore_model_reloads",
            "Model reloads by result",
            ("result",),
            registry=self.registry,
        )

    def set_model(self, version: str | None) -> None:
        """Exactly one version label carries 1 (none while no model is loaded)."""
        if self._model_version is not None and self._model_version != version:
            self.model_info.remove(self._model_version)
        if version is not None:
            self.model_info.labels(version=version).set(1)
        self._model_version = version

    def render(self) -> bytes:
        return generate_latest(self.registry)
