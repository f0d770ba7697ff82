"""Producing messages (one or many) with delivery reports, and the key -> partition preview."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import ConfigResource

from dashboard.kafka.client.clients import admin_client, client_config, request_timeout, wait
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.partitioner import (
    LIBRDKAFKA_PARTITIONER,
    PARTITIONERS,
    UNKEYED,
    partition_for_key,
)
from dashboard.kafka.topics import topic_partition_ids

# Bytes a record adds around its key, value and headers (record batch v2, one record).
RECORD_OVERHEAD = 128


@dataclass(frozen=True)
class OutMessage:
    """A message to produce; line is where it came from in a bulk paste or file."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None
    line: int | None = None

    def size(self) -> int:
        """Approximate bytes on the wire, to compare with the topic's max.message.bytes."""
        return (
            RECORD_OVERHEAD
            + len(self.key or b"")
            + len(self.value or b"")
            + sum(len(n.encode()) + len(v) for n, v in self.headers)
        )


@dataclass(frozen=True)
class ProduceTarget:
    """What producing to a topic must respect."""

    topic: str
    partitions: int
    max_message_bytes: int


@dataclass(frozen=True)
class Delivery:
    """Kafka's answer for one message."""

    line: int | None
    key: str | None
    partition: int | None
    offset: int | None
    timestamp: int | None
    error: str | None


@dataclass(frozen=True)
class ProduceResult:
    """Delivery reports of one produce action, counted per partition."""

    topic: str
    partitioner: str
    deliveries: tuple[Delivery, ...]
    per_partition: dict[int, int]
    delivered: int
    failed: int


@dataclass(frozen=True)
class PartitionPreview:
    """Where a key would go, and why."""

    topic: str
    partitions: int
    partitioner: str
    partition: int | None
    explanation: str


def produce_target(*, cluster: str, topic: str) -> ProduceTarget:
    """Partition count and max.message.bytes of a topic; TopicNotFound if it does not exist."""
    admin = admin_client(cluster=cluster)
    configs = admin.describe_configs(
        [ConfigResource("TOPIC", topic)], request_timeout=request_timeout()
    )
    partitions = topic_partition_ids(cluster=cluster, topic=topic)
    entries = wait(next(iter(configs.values())), cluster=cluster)
    entry = entries.get("max.message.bytes")
    limit = int(entry.value) if entry is not None and entry.value else 1048588
    return ProduceTarget(topic=topic, partitions=len(partitions), max_message_bytes=limit)


def partitioner_check(partitioner: str) -> None:
    """InvalidRequest unless the partitioner is one we know."""
    if partitioner not in PARTITIONERS:
        raise InvalidRequest(f"partitioner must be one of {', '.join(PARTITIONERS)}.")


def partition_preview(
    *, cluster: str, topic: str, key: bytes | None, partitioner: str = "murmur2"
) -> PartitionPreview:
    """The partition a key goes to on this topic (None without a key: the producer picks)."""
    partitioner_check(partitioner)
    count = len(topic_partition_ids(cluster=cluster, topic=topic))
    if key is None:
        return PartitionPreview(topic, count, partitioner, None, UNKEYED)
    partition = partition_for_key(key, count, partitioner=partitioner)
    how = "toPositive(murmur2(key))" if partitioner == "murmur2" else "crc32(key)"
    return PartitionPreview(
        topic, count, partitioner, partition, f"{how} % {count} partitions = {partition}"
    )


def produce_check(target: ProduceTarget, messages: Sequence[OutMessage]) -> None:
    """Refuse, before anything is sent, messages Kafka would refuse: size, partition."""
    for index, msg in enumerate(messages):
        where = f"line {msg.line}" if msg.line is not None else f"message {index + 1}"
        if msg.partition is not None and not 0 <= msg.partition < target.partitions:
            raise InvalidRequest(
                f"{where}: partition {msg.partition} does not exist; {target.topic!r} has "
                f"partitions 0-{target.partitions - 1}."
            )
        if msg.size() > target.max_message_bytes:
            raise InvalidRequest(
                f"{where}: the message is about {msg.size():,} bytes; {target.topic!r} takes at "
                f"most {target.max_message_bytes:,} (max.message.bytes). Nothing was sent."
            )


def _reporter(reports: dict[int, Delivery], index: int, msg_in: OutMessage) -> Any:
    """The delivery callback of message `index`: its report into `reports`."""

    def report(err: Any, msg: Any) -> None:
        key = None if msg_in.key is None else msg_in.key.decode("utf-8", "replace")[:200]
        if err is not None:
            reports[index] = Delivery(msg_in.line, key, None, None, None, err.str())
        else:
            reports[index] = Delivery(
                msg_in.line, key, msg.partition(), msg.offset(), msg.timestamp()[1], None
            )

    return report


def produce_messages(
    *,
    cluster: str,
    topic: str,
    messages: Sequence[OutMessage],
    partitioner: str = "murmur2",
    timeout: float = 30.0,
) -> ProduceResult:
    """Produce the messages with one producer and wait for every delivery report."""
    partitioner_check(partitioner)
    if not messages:
        raise InvalidRequest("There is nothing to send.")
    target = produce_target(cluster=cluster, topic=topic)
    produce_check(target, messages)
    producer = Producer(
        client_config(
            cluster=cluster,
            **{
                "client.id": "kafkaview-produce",
                "partitioner": LIBRDKAFKA_PARTITIONER[partitioner],
                # Idempotence: a retry after a lost acknowledgement writes no duplicate.
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.max.bytes": max(target.max_message_bytes + 1024, 1000000),
                "message.timeout.ms": int(timeout * 1000),
                "log_level": 3,
            },
        )
    )
    reports: dict[int, Delivery] = {}
    for index, msg in enumerate(messages):
        kwargs: dict[str, Any] = {
            "key": msg.key,
            "value": msg.value,
            "headers": list(msg.headers) or None,
            "on_delivery": _reporter(reports, index, msg),
        }
        if msg.partition is not None:
            kwargs["partition"] = msg.partition
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: let deliveries drain
            except KafkaException as exc:
                error = exc.args[0].str() if exc.args else str(exc)
                reports[index] = Delivery(msg.line, None, None, None, None, error)
                break
        producer.poll(0)
    producer.flush(timeout + 5)
    deliveries = [
        # Not confirmed in time: it may or may not have been written. Say so.
        reports.get(i) or Delivery(msg.line, None, None, None, None, "no delivery report in time")
        for i, msg in enumerate(messages)
    ]
    per_partition: dict[int, int] = {}
    for d in deliveries:
        if d.error is None and d.partition is not None:
            per_partition[d.partition] = per_partition.get(d.partition, 0) + 1
    failed = sum(1 for d in deliveries if d.error is not None)
    return ProduceResult(
        topic=topic,
        partitioner=partitioner,
        deliveries=tuple(deliveries),
        per_partition=dict(sorted(per_partition.items())),
        delivered=len(deliveries) - failed,
        failed=failed,
    )
