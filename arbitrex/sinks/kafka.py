"""The optional Kafka sink: every stored tick to ``KAFKA_TOPIC``, key ``VENUE:SYMBOL``, value
the JSON record. confluent-kafka's idempotent producer (acks=all, no duplicates on retry),
a bounded local buffer, and delivery reports counted. Only created when Kafka is enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from arbitrex.errors import MissingPackage, StoreError
from arbitrex.model.tick import Tick, encode

__all__ = ["KafkaSink"]

log = logging.getLogger(__name__)


class KafkaSink:
    """Implements ``Sink``."""

    name = "kafka"

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        extra: Mapping[str, Any] | None = None,
        # Limits
        max_buffered: int = 100_000,
        # Timeouts
        full_wait: float = 5.0,
        flush_timeout: float = 15.0,
    ) -> None:
        try:
            from confluent_kafka import KafkaException, Producer
        except ImportError as exc:
            raise MissingPackage("confluent-kafka", "the Kafka sink (DISABLE_KAFKA=0)", "kafka",
                                 "or set DISABLE_KAFKA=1") from exc
        self.topic = topic
        self.full_wait = full_wait
        self.flush_timeout = flush_timeout
        self.delivered = 0
        self.failed = 0
        self._errors = KafkaException
        config = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "queue.buffering.max.messages": max_buffered,
            "message.timeout.ms": 300_000,
            **(extra or {}),
        }
        self.producer = Producer(config)

    def _report(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            if self.failed == 1 or self.failed % 1000 == 0:
                log.error("Kafka delivery failed (%d so far): %s", self.failed, err)

    def __call__(self, ticks: Sequence[Tick]) -> None:
        producer = self.producer
        for tick in ticks:
            key = f"{tick.venue}:{tick.symbol}".encode()
            value = encode(tick)
            waited = 0.0
            while True:
                try:
                    producer.produce(self.topic, value=value, key=key, on_delivery=self._report)
                    break
                except BufferError:  # the bounded buffer is full: wait for deliveries
                    if waited >= self.full_wait:
                        self.failed += 1
                        log.error("Kafka buffer full for %.0f s: a tick was not sent to Kafka "
                                  "(it is in the store)", waited)
                        break
                    producer.poll(0.1)
                    waited += 0.1
                except self._errors as exc:
                    raise StoreError(f"Kafka refused a message: {exc}") from exc
        producer.poll(0)

    @property
    def in_flight(self) -> int:
        return len(self.producer)

    def status(self) -> str:
        return (f"kafka: {self.delivered:,} delivered, {self.in_flight:,} in flight"
                + (f", {self.failed:,} failed" if self.failed else ""))

    def close(self) -> None:
        left = self.producer.flush(self.flush_timeout)
        if left:
            log.error("%d ticks were not confirmed by Kafka before stopping", left)
        log.info("Kafka: %d delivered, %d failed", self.delivered, self.failed)
