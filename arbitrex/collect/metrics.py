"""collect's own Prometheus metrics (``collect --metrics-port``): received and stored ticks,
the spool waiting for Redis, the Kafka sink's deliveries. Read from the collector's
counters when scraped; nothing is added to the collection loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PromCollector

from arbitrex.collect.loop import Collector
from arbitrex.stores.base import Spools

__all__ = ["serve_metrics"]


class _Exporter(PromCollector):
    def __init__(self, collector: Collector) -> None:
        self.c = collector

    def collect(self) -> Iterator[Metric]:
        stats = self.c.stats
        yield CounterMetricFamily("arbitrex_collect_ticks_received",
                                  "Ticks received from the source.", value=stats.received)
        stored = CounterMetricFamily("arbitrex_collect_ticks_stored", "Ticks stored, per stream.",
                                     labels=["venue", "symbol"])
        for (venue, symbol), n in sorted(stats.ticks.items()):
            stored.add_metric([venue, symbol], n)
        yield stored
        yield CounterMetricFamily("arbitrex_collect_ticks_rejected",
                                  "Ticks that failed validation.", value=stats.rejected)
        store = self.c.store
        yield GaugeMetricFamily("arbitrex_collect_spool_pending",
                                "Ticks in the local spool, waiting for Redis.",
                                value=store.pending() if isinstance(store, Spools) else 0)
        for sink in self.c.sinks:
            yield CounterMetricFamily(f"arbitrex_collect_{sink.name}_delivered",
                                      f"Ticks the {sink.name} sink confirmed.",
                                      value=sink.delivered)
            yield CounterMetricFamily(f"arbitrex_collect_{sink.name}_failed",
                                      f"Ticks the {sink.name} sink did not take.",
                                      value=sink.failed)


def serve_metrics(collector: Collector, port: int, host: str = "127.0.0.1") -> Any:
    """Start the HTTP endpoint in a daemon thread; returns the server (OSError when the
    port cannot be bound)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Exporter(collector))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
