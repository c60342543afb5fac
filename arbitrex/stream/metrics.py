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

__all__ = ["Buckets", "EPISODE_BUCKETS", "LAG_BUCKETS", "LATENCY_BUCKETS", "ServerMetrics",
           "WRITE_BUCKETS"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                   10, 30, 60)
# A venue's lag may be hours off (a wrong BROKER_TIMEZONE). Below zero (the broker's clock
# ahead) it counts as 0: Prometheus histograms with negative buckets have no sum or count.
LAG_BUCKETS = (0.0, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
               10.0, 60.0, 3600.0)

# Server-side latency, receipt -> handed to the kernel: finer, it is mostly milliseconds.
WRITE_BUCKETS = (0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
                 0.015, 0.02, 0.05, 0.1, 0.25, 1.0)

# How long episodes last, in seconds: most close within a broker's feed latency (0.1-1 s).
EPISODE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
                   1800.0)


class Buckets:
    """A histogram as plain counts per bucket (the last one is +Inf) and a sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for le, n in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts,
                         strict=True):
            running += n
            out.append((le, running))
        return out


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
        self.best_out: Counter[str] = Counter()
        self.top_edges: Callable[[], dict[str, float | None]] = dict  # when scraped
        self.latency = {since: Buckets(LATENCY_BUCKETS) for since in ("event", "receive")}
        self.venue_lag: dict[str, Buckets] = {}
        # per client write of a dispatch: since the receipt of its oldest tick, and since
        # the dispatch began (the server's own work, apart from the store and the wake-up)
        self.written = {since: Buckets(WRITE_BUCKETS) for since in ("receive", "dispatch")}
        self.episodes_ended: Counter[tuple[str, str, str]] = Counter()  # (symbol, sell, buy)
        self.episode_duration: dict[str, Buckets] = {}  # symbol -> seconds
        self.episodes_open: Callable[[], dict[str, int]] = dict  # symbol -> open, when scraped
        self.episode_frames_dropped = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Exporter(self))

    def observe(self, time_msc: int, recv_ns: int, now_ns: int, venue: str = "") -> None:
        """One tick fanned out now: its latency, and its venue's lag (received - event)."""
        latency = self.latency
        latency["event"].observe(max(0.0, now_ns / 1e9 - time_msc / 1e3))
        latency["receive"].observe(max(0.0, (now_ns - recv_ns) / 1e9))
        lag = self.venue_lag.get(venue)
        if lag is None:
            lag = self.venue_lag[venue] = Buckets(LAG_BUCKETS)
        lag.observe(max(0.0, recv_ns / 1e9 - time_msc / 1e3))

    def ended(self, symbol: str, sell: str, buy: str, duration_ms: float) -> None:
        """One episode ended."""
        self.episodes_ended[(symbol, sell, buy)] += 1
        buckets = self.episode_duration.get(symbol)
        if buckets is None:
            buckets = self.episode_duration[symbol] = Buckets(EPISODE_BUCKETS)
        buckets.observe(duration_ms / 1e3)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _by_symbol(name: str, text: str, counts: Counter[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text, labels=["symbol"])
    for symbol, n in sorted(counts.items()):
        family.add_metric([symbol], n)
    return family


class _Exporter(Collector):
    def __init__(self, metrics: ServerMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        yield _by_symbol("arbitrex_ticks_in", "Ticks read from the store.", m.ticks_in)
        yield _by_symbol("arbitrex_ticks_out", "Ticks sent to clients.", m.ticks_out)
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
        for since, buckets in m.latency.items():
            latency.add_metric([since], buckets.cumulative(), sum_value=buckets.total)
        yield latency
        written = HistogramMetricFamily(
            "arbitrex_write_latency_seconds",
            "The server's share of the latency: seconds from when the collector received the "
            "oldest tick of a read of the store (since=receive), or from when the server "
            "began to dispatch the read (since=dispatch), until a client's write of it was "
            "handed to the kernel (one observation per client per read).", labels=["since"])
        for since, buckets in m.written.items():
            written.add_metric([since], buckets.cumulative(), sum_value=buckets.total)
        yield written
        lag = HistogramMetricFamily(
            "arbitrex_venue_lag_seconds",
            "Seconds from a tick's event time until the collector received it, by venue "
            "(whole hours: check BROKER_TIMEZONE; a clock ahead counts as 0: see doctor).",
            labels=["venue"])
        for venue, buckets in sorted(m.venue_lag.items()):
            lag.add_metric([venue], buckets.cumulative(), sum_value=buckets.total)
        yield lag
        yield _by_symbol("arbitrex_best_out", "Best frames sent to clients.", m.best_out)
        edge = GaugeMetricFamily(
            "arbitrex_best_edge", "The top edge of each symbol quoted at several venues: the "
            "largest of one venue's bid minus another venue's ask, among the venues that are "
            "not stale, in price units (above zero: buying at one and selling at the other "
            "earns it).",
            labels=["symbol"])
        for symbol, top in m.top_edges().items():
            if top is not None:
                edge.add_metric([symbol], top)
        yield edge
        yield from _episodes(m)
        age = (time.time_ns() - m.last_tick_recv_ns) / 1e9 if m.last_tick_recv_ns else 0.0
        yield GaugeMetricFamily("arbitrex_last_tick_age_seconds",
                                "Seconds since the collector received the newest tick served.",
                                value=age)


def _episodes(m: ServerMetrics) -> Iterator[Metric]:
    ended = CounterMetricFamily("arbitrex_episodes", "Episodes that ended (a pair's net edge "
                                "above zero, then not), by symbol and pair.",
                                labels=["symbol", "sell", "buy"])
    for labels, n in sorted(m.episodes_ended.items()):
        ended.add_metric(list(labels), n)
    yield ended
    duration = HistogramMetricFamily("arbitrex_episode_duration_seconds",
                                     "How long ended episodes lasted, on the receive clock.",
                                     labels=["symbol"])
    for symbol, buckets in sorted(m.episode_duration.items()):
        duration.add_metric([symbol], buckets.cumulative(), sum_value=buckets.total)
    yield duration
    opened = GaugeMetricFamily("arbitrex_episodes_open", "Episodes open now, by symbol.",
                               labels=["symbol"])
    for symbol, n in sorted(m.episodes_open().items()):
        opened.add_metric([symbol], n)
    yield opened
    yield CounterMetricFamily("arbitrex_episode_frames_dropped",
                              "Episode frames a slow client's bound could not hold (it got "
                              "a snapshot of the open episodes instead).",
                              value=m.episode_frames_dropped)
