"""Exact lag in seconds: the timestamp of the first message a group has not consumed yet."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    TopicPartition,
)

from dashboard.kafka.client.clients import call, consumer_config
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.render import timestamp_type_name

# Reading one message per partition is cheap, but a page must not wait long:
# partitions not answered within the budget show no exact value.
BUDGET_SECONDS = 2.0
MAX_PARTITIONS = 500


@dataclass(frozen=True)
class MessageTime:
    """The offset and timestamp of the message found at or after a committed offset."""

    offset: int
    timestamp_ms: int
    timestamp_type: str  # "create_time" (set by the producer) or "log_append_time" (by the broker)


def message_times(
    *,
    cluster: str,
    positions: Mapping[tuple[str, int], int],
    budget: float = BUDGET_SECONDS,
) -> dict[tuple[str, int], MessageTime]:
    """For each (topic, partition) → committed offset, the first message at or after it."""
    wanted = dict(sorted(positions.items())[:MAX_PARTITIONS])
    if not wanted:
        return {}
    # A consumer assigned to each lagging partition: a Fetch per partition's leader.
    requests_count(cluster=cluster, call="Fetch", n=len(wanted))
    consumer = Consumer(
        consumer_config(
            cluster=cluster,
            purpose="lagtime",
            **{
                # When retention removed the committed offset, the next message is the oldest.
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 50,
                # One message is needed per partition: keep every fetch small.
                "max.partition.fetch.bytes": 65536,
            },
        )
    )
    found: dict[tuple[str, int], MessageTime] = {}
    done: set[tuple[str, int]] = set()
    try:
        call(
            lambda: consumer.assign([TopicPartition(t, p, o) for (t, p), o in wanted.items()]),
            cluster=cluster,
        )
        deadline = time.monotonic() + budget
        while len(done) < len(wanted) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.1):
                key = (str(msg.topic()), int(msg.partition() or 0))
                if key in done:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        done.add(key)  # nothing unconsumed after all
                    continue
                kind, ts = msg.timestamp()
                if kind in (TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME) and ts >= 0:
                    found[key] = MessageTime(
                        offset=int(msg.offset() or 0),
                        timestamp_ms=ts,
                        timestamp_type=timestamp_type_name(kind),
                    )
                done.add(key)
                # Stop fetching this partition: its answer is known.
                consumer.pause([TopicPartition(*key)])
    finally:
        consumer.close()
    return found
