"""Prometheus metrics of one node, in a registry of its own (tests build many nodes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "zongji_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "zongji_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "zongji_job_runs", "Background job runs", ["job", "outcome"], registry=self.registry
        )
        self.sms_sent = Counter(
            "zongji_sms_sent", "SMS handed to the gateway", ["outcome"], registry=self.registry
        )
        self.started = Gauge(
            "zongji_node_start_time_seconds", "When the node started", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
