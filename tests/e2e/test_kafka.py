"""The Kafka sink against librdkafka's mock cluster; and no client at all when disabled."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from arbitrex.cli import app
from arbitrex.stores.sqlite import SqliteStore

kafka = pytest.importorskip("confluent_kafka")


@pytest.fixture
def mock_cluster():
    """A mock cluster lives as long as the client that created it; consumers and other
    processes bootstrap from the brokers it reports."""
    owner = kafka.Producer({"test.mock.num.brokers": 3, "log_level": 0})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    owner.flush(5)


def consume_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "t",
                               "auto.offset.reset": "earliest", "log_level": 0})
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.25)
            if msg is not None and msg.error() is None:
                out.append(msg)
    finally:
        consumer.close()
    return out


def test_every_stored_tick_reaches_kafka(arbitrex, mock_cluster, tmp_path):
    arbitrex.env.update(DISABLE_KAFKA="0", KAFKA_BOOTSTRAP_SERVERS=mock_cluster,
                        KAFKA_TOPIC="arbitrex.test")
    result = arbitrex.run("collect", "--source", "sim", "--symbols", "EURUSD,GBPUSD",
                          "--rate", "400", "--duration", "3", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Kafka sink on" in result.stderr
    store = SqliteStore(tmp_path / "ticks.db")
    stored = {(t.venue, t.symbol, t.seq): t for t in store.iter_range()}
    messages = consume_all(mock_cluster, "arbitrex.test", len(stored))
    assert len(messages) == len(stored) > 500
    per_key: dict[str, list[int]] = {}
    for msg in messages:
        record = json.loads(msg.value())
        key = msg.key().decode()
        assert key == f"{record['venue']}:{record['symbol']}"
        per_key.setdefault(key, []).append(record["seq"])
        tick = stored[(record["venue"], record["symbol"], record["seq"])]
        assert record["bid"] == tick.bid and record["time_msc"] == tick.time_msc
    for key, seqs in per_key.items():  # one key, one partition: in order, once
        assert seqs == list(range(1, len(seqs) + 1)), key
    assert f"Kafka: {len(stored)} delivered, 0 failed" in result.stderr


def test_disabled_kafka_creates_no_client_even_with_brokers_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # any import would fail
    (tmp_path / ".env").write_text("DISABLE_KAFKA=1\nKAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9\n")
    result = CliRunner().invoke(app, ["collect", "--source", "sim", "--duration", "0.5"])
    assert result.exit_code == 0, result.output
    report = CliRunner().invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(report.output)["checks"]}
    assert checks["kafka"]["status"] == "warn" and "DISABLE_KAFKA" in checks["kafka"]["detail"]


def test_doctor_reports_unreachable_kafka(arbitrex):
    arbitrex.env.update(DISABLE_KAFKA="0", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    result = arbitrex.run("doctor", "--json", timeout=60)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1 and checks["kafka"]["status"] == "fail"
    assert "unreachable" in checks["kafka"]["detail"]
