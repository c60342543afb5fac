"""The Kafka sink in process: delivered against librdkafka's mock cluster; a buffer that
stays full is counted and named, never an exception on collect's path."""

from __future__ import annotations

import logging

import pytest

from arbitrex.model.tick import Tick

kafka = pytest.importorskip("confluent_kafka")

from arbitrex.sinks.kafka import KafkaSink  # noqa: E402


def ticks(n: int) -> list[Tick]:
    return [Tick("icm", "EURUSD", i, 1_800_000_000_000 + i, 1.1, 1.2, 0.0, 0, 0.0, 6, 0, 0)
            for i in range(1, n + 1)]


def test_delivered_to_a_mock_cluster_and_counted():
    sink = KafkaSink("unused:9092", "arbitrex.test", extra={"test.mock.num.brokers": 1})
    sink(ticks(20))
    sink.close()
    assert sink.delivered == 20 and sink.failed == 0
    assert sink.status() == "kafka: 20 delivered, 0 in flight"


def test_a_buffer_that_stays_full_is_counted_not_raised(caplog):
    sink = KafkaSink("127.0.0.1:1", "arbitrex.test", max_buffered=2, full_wait=0.2,
                     flush_timeout=0.2, extra={"message.timeout.ms": 1000, "log_level": 0})
    with caplog.at_level(logging.ERROR):
        sink(ticks(5))  # two fit; nothing drains them: three are counted as failed
    assert sink.failed == 3 and sink.in_flight == 2
    assert "Kafka buffer full" in caplog.text and "it is in the store" in caplog.text
    sink.close()
