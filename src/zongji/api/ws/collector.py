"""The gateway's figures for Prometheus, read when `/metrics` is scraped."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from zongji.api.ws.gateway import Gateway


class GatewayCollector:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterable[Metric]:
        g = self.gateway
        yield GaugeMetricFamily(
            "zongji_ws_connections", "WebSocket connections open now", value=g.connections
        )
        yield _counter(
            "zongji_ws_connections_accepted", "WebSocket connections accepted", g.accepted
        )
        yield _counter("zongji_ws_events_sent", "Events written to WebSocket connections", g.sent)
        yield _counter(
            "zongji_ws_slow_clients_cut_off",
            "Connections cut off because their send queue was full (close 4429)",
            g.slow_cut_offs,
        )
        yield GaugeMetricFamily(
            "zongji_ws_queued_messages",
            "Messages waiting in the connections' send queues",
            value=g.queued,
        )
        yield GaugeMetricFamily(
            "zongji_ws_replay_buffer_events", "Events kept for resuming clients", value=g.buffered
        )
        yield GaugeMetricFamily("zongji_ws_cursor", "The cursor of the last event", value=g.head)
        resumes = CounterMetricFamily(
            "zongji_ws_resumes",
            "Connections that gave a cursor: resumed, or reset and why",
            labels=["outcome"],
        )
        for outcome, count in sorted(g.resumes.items()):
            resumes.add_metric([outcome], count)
        yield resumes
        closes = CounterMetricFamily(
            "zongji_ws_closes", "Connections ended, by reason", labels=["reason"]
        )
        for reason, count in sorted(g.closes.items()):
            closes.add_metric([reason], count)
        yield closes


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation)
    family.add_metric([], value)
    return family
