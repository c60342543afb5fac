"""The server's metrics, exported in Prometheus text by prometheus_client.

The hot path (one increment per tick per client) only touches plain Python counters; a
custom collector turns them into metric families when ``/metrics`` is scraped. Latency is
a histogram observed once per tick as it leaves the store for the clients: a bisect into
plain bucket counts (prometheus_client's ``Histogram`` takes a lock per observation).
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                   10, 30, 60)


class ServerMetrics:
    def __init__(self) -> None:
        self.ticks_in: Counter[str] = Counter()
        self.ticks_out: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.gaps: Counter[str] = Counter()
        self.slow_closes = 0
        self.clients = 0
        self.subscriptions = 0
        self.buffered: Callable[[], int] = lambda: 0  # bytes in client buffers, when scraped
        self.last_tick_recv_ns = 0
        self.last_tick_time_msc = 0
        # Latency: per series, counts per bucket (the last one is +Inf) and the sum
        self.latency = {since: ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
                        for since in ("event", "receive")}
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Exporter(self))

    def observe(self, time_msc: int, recv_ns: int, now_ns: int) -> None:
        for since, seconds in (("event", now_ns / 1e9 - time_msc / 1e3),
                               ("receive", (now_ns - recv_ns) / 1e9)):
            seconds = max(0.0, seconds)
            counts, total = self.latency[since]
            counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            total[0] += seconds

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Exporter(Collector):
    def __init__(self, metrics: ServerMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        ticks_in = CounterMetricFamily("arbitrex_ticks_in", "Ticks read from the store.",
                                       labels=["symbol"])
        for symbol, n in sorted(m.ticks_in.items()):
            ticks_in.add_metric([symbol], n)
        yield ticks_in
        ticks_out = CounterMetricFamily("arbitrex_ticks_out", "Ticks sent to clients.",
                                        labels=["symbol"])
        for symbol, n in sorted(m.ticks_out.items()):
            ticks_out.add_metric([symbol], n)
        yield ticks_out
        yield GaugeMetricFamily("arbitrex_clients", "Connected WebSocket clients.",
                                value=m.clients)
        yield GaugeMetricFamily("arbitrex_subscriptions", "Symbol subscriptions, all clients.",
                                value=m.subscriptions)
        yield GaugeMetricFamily("arbitrex_buffered_bytes", "Bytes waiting in client buffers.",
                                value=m.buffered())
        gaps = CounterMetricFamily("arbitrex_gaps", "Gap frames sent.", labels=["reason"])
        for reason in ("slow_consumer", "history_trimmed"):
            gaps.add_metric([reason], m.gaps[reason])
        yield gaps
        yield CounterMetricFamily("arbitrex_slow_client_closes",
                                  "Clients closed (1008) for not keeping up.",
                                  value=m.slow_closes)
        errors = CounterMetricFamily("arbitrex_errors", "Error frames and refusals, by code.",
                                     labels=["code"])
        for code, n in sorted(m.errors.items()):
            errors.add_metric([code], n)
        yield errors
        latency = HistogramMetricFamily(
            "arbitrex_tick_latency_seconds",
            "Seconds from a tick's event time (since=event) or from when the collector "
            "received it (since=receive) until the server fans it out.", labels=["since"])
        for since, (counts, total) in m.latency.items():
            cumulative, buckets = 0, []
            for le, n in zip((*map(floatToGoString, LATENCY_BUCKETS), "+Inf"), counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            latency.add_metric([since], buckets, sum_value=total[0])
        yield latency
        age = (time.time_ns() - m.last_tick_recv_ns) / 1e9 if m.last_tick_recv_ns else 0.0
        yield GaugeMetricFamily("arbitrex_last_tick_age_seconds",
                                "Seconds since the collector received the newest tick served.",
                                value=age)
