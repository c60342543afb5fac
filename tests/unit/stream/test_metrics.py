"""The server's Prometheus metrics, rendered."""

from __future__ import annotations

from arbitrex.stream.metrics import ServerMetrics


def test_the_latency_histogram_counts_each_tick_in_its_bucket():
    m = ServerMetrics()
    now = 1_800_000_000_000_000_000
    m.observe(now // 10**6 - 3, now - 3_000_000, now)  # 3 ms
    m.observe(now // 10**6, now - 1_000_000, now)  # exactly 1 ms: in le="0.001"
    text = m.render().decode()
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.0005",since="receive"} 0.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.001",since="receive"} 1.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.005",since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="1.0",since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_count{since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_sum{since="receive"} 0.004' in text
