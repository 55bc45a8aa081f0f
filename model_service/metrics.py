"""Prometheus metrics of one app instance (its own registry, so several
apps in one process, as in the tests, do not share counters).

With worker processes (model_service.workers), prometheus_client's
multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` is set before the workers
start, each writes its values to files there, and `/metrics` sums them over
all workers, whichever one answers the scrape."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from shared.card import ModelCard

LATENCY_BUCKETS = (
    0.0005,
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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "predicted_rows", "Rows predicted.", ("protocol",), registry=self.registry
        )
        self.errors = Counter(
            "http_errors",
            "Answers with a 4xx or 5xx status, by status.",
            ("status",),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}
        self._rows_children: dict[str, Counter] = {}
        self.model = Gauge(
            "model_info",
            "The model being served (value 1).",
            ("name", "version", "task"),
            registry=self.registry,
            # every worker serves the same model: one series, not one per worker
            multiprocess_mode="max",
        )

    #: the media type of `exposition()`
    content_type = CONTENT_TYPE_LATEST

    def exposition(self) -> bytes:
        """The text a scraper reads: this app's metrics, or in multiprocess
        mode those of every worker, summed."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)
        return generate_latest(registry)

    def model_loaded(self, card: ModelCard) -> None:
        self.model.labels(card.name, card.version, card.task).set(1)

    def rows_predicted(self, path: str, rows: int) -> None:
        protocol = "v2" if path.startswith("/v2/") else "native"
        child = self._rows_children.get(protocol)
        if child is None:
            child = self._rows_children[protocol] = self.rows.labels(protocol)
        child.inc(rows)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        # The labelled children are looked up once per label set and kept:
        # prometheus_client's labels() validates and locks on every call.
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
                self.errors.labels(str(status)) if status >= 400 else None,
            )
        requests, latency, errors = children
        requests.inc()
        latency.observe(seconds)
        if errors is not None:
            errors.inc()
