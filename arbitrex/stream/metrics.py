"""Counters of the server, rendered as Prometheus text (names prefixed ``arbitrex_``)."""

from __future__ import annotations

import time
from collections import Counter


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


class ServerMetrics:
    def __init__(self) -> None:
        self.ticks_in: Counter[str] = Counter()
        self.ticks_out: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.gaps = 0
        self.slow_closes = 0
        self.clients = 0
        self.subscriptions = 0
        self.buffered_bytes = 0
        self.last_tick_recv_ns = 0
        self.last_tick_time_msc = 0

    def render(self) -> str:
        lines = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP arbitrex_{name} {help_}")
            lines.append(f"# TYPE arbitrex_{name} {kind}")
            lines.extend(f"arbitrex_{name}{labels} {value:g}" for labels, value in samples)

        metric("ticks_in_total", "counter", "Ticks read from the store, per symbol.",
               [(_labels(symbol=s), n) for s, n in sorted(self.ticks_in.items())])
        metric("ticks_out_total", "counter", "Tick frames sent to clients, per symbol.",
               [(_labels(symbol=s), n) for s, n in sorted(self.ticks_out.items())])
        metric("clients", "gauge", "Connected WebSocket clients.", [("", self.clients)])
        metric("subscriptions", "gauge", "Symbol subscriptions over all clients.",
               [("", self.subscriptions)])
        metric("buffered_bytes", "gauge", "Bytes waiting in client send buffers.",
               [("", self.buffered_bytes)])
        metric("gaps_total", "counter", "Gap frames sent.", [("", self.gaps)])
        metric("slow_client_closes_total", "counter", "Clients closed for not keeping up.",
               [("", self.slow_closes)])
        metric("errors_total", "counter", "Error frames sent, per code.",
               [(_labels(code=c), n) for c, n in sorted(self.errors.items())])
        lag = (time.time_ns() - self.last_tick_recv_ns) / 1e9 if self.last_tick_recv_ns else 0
        metric("last_tick_age_seconds", "gauge",
               "Seconds since the collector received the newest tick served.", [("", lag)])
        return "\n".join(lines) + "\n"
