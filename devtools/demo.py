"""Demo traffic that replays Kafka's processing flow on a real cluster.

A producer sends keyed JSON messages to `user_topic` (3 partitions; some without
a key, so the sticky partitioner shows too), and four consumer groups show the
ways of consuming: a two-member group splitting the partitions, auto commit,
manual commit after each message, and a group that stopped so its lag grows. A share
group of two members reads the same topic as a queue: a partition may be assigned to
both, and each record goes to one of them.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)

DEMO_TOPIC = "user_topic"
DEMO_PARTITIONS = 3
DEMO_KEYS = tuple(f"user-{i}" for i in range(1, 10))
SPLIT_GROUP = "consumer-group-1"
AUTO_COMMIT_GROUP = "commit-consumer-group"
MANUAL_COMMIT_GROUP = "manual-commit-group"
STOPPED_GROUP = "test-consumer-group"
DEMO_GROUPS = (SPLIT_GROUP, AUTO_COMMIT_GROUP, MANUAL_COMMIT_GROUP, STOPPED_GROUP)
SHARE_GROUP = "share-group-1"
EVENTS = ("login", "view", "click", "add_to_cart", "purchase", "logout")


def demo_topic_ensure(*, conf: dict[str, Any], partitions: int = DEMO_PARTITIONS) -> None:
    """Create the demo topic unless it exists."""
    admin = AdminClient({**conf, "log_level": 3})
    futures = admin.create_topics([NewTopic(DEMO_TOPIC, partitions, 1)], request_timeout=10)
    try:
        futures[DEMO_TOPIC].result(timeout=15)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


@dataclass
class DemoTraffic:
    """Threads producing and consuming the demo flow until stop() is called."""

    conf: dict[str, Any]
    rate: float = 4.0  # messages per second
    stopped_group_seconds: float = 20.0  # how long test-consumer-group reads before it stops
    unkeyed_every: int = 5  # every n-th message has no key
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    produced: int = 0
    consumed: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Create the topic and start the producer and the consumer groups."""
        demo_topic_ensure(conf=self.conf)
        self._spawn("demo-producer", self._produce)
        for member in (1, 2):
            self._spawn(
                f"demo-{SPLIT_GROUP}-{member}",
                self._consume,
                group=SPLIT_GROUP,
                client_id=f"{SPLIT_GROUP}-member-{member}",
            )
        self._spawn(f"demo-{AUTO_COMMIT_GROUP}", self._consume, group=AUTO_COMMIT_GROUP)
        self._spawn(
            f"demo-{MANUAL_COMMIT_GROUP}", self._consume, group=MANUAL_COMMIT_GROUP, manual=True
        )
        self._spawn(
            f"demo-{STOPPED_GROUP}",
            self._consume,
            group=STOPPED_GROUP,
            reset="earliest",
            seconds=self.stopped_group_seconds,
        )
        for member in (1, 2):
            self._spawn(f"demo-{SHARE_GROUP}-{member}", self._share, member=member)

    def stop(self, *, timeout: float = 15) -> None:
        """Stop every thread; consumers leave their groups cleanly."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=timeout)

    def _spawn(self, name: str, target: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=self._guard, args=(target,), kwargs=kwargs, name=name)
        thread.daemon = True
        thread.start()
        self.threads.append(thread)

    def _guard(self, target: Any, **kwargs: Any) -> None:
        try:
            target(**kwargs)
        except Exception as exc:  # a demo thread must say why it died, not vanish
            log.exception("demo thread %s failed", threading.current_thread().name)
            self.errors.append(f"{threading.current_thread().name}: {exc}")

    def _produce(self) -> None:
        producer = Producer(
            {
                **self.conf,
                "client.id": "demo-producer",
                "linger.ms": 5,
                # The Java clients' partitioner, so keys land where a Java producer puts them.
                "partitioner": "murmur2_random",
                "log_level": 3,
            }
        )
        seq = 0
        try:
            while not self.stop_event.is_set():
                seq += 1
                key = None if seq % self.unkeyed_every == 0 else random.choice(DEMO_KEYS)
                value = {
                    "user": key,
                    "event": random.choice(EVENTS),
                    "seq": seq,
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                }
                producer.produce(
                    DEMO_TOPIC,
                    key=key.encode() if key else None,
                    value=json.dumps(value).encode(),
                    headers=[("source", b"kafkaview-demo")],
                )
                producer.poll(0)
                self.produced += 1
                # Jitter keeps the rate believable: bursts and pauses, a few per second.
                self.stop_event.wait(random.expovariate(self.rate))
        finally:
            producer.flush(10)

    def _consume(
        self,
        *,
        group: str,
        client_id: str | None = None,
        manual: bool = False,
        reset: str = "latest",
        seconds: float | None = None,
    ) -> None:
        consumer = Consumer(
            {
                **self.conf,
                "group.id": group,
                "client.id": client_id or group,
                "auto.offset.reset": reset,
                "enable.auto.commit": not manual,
                "auto.commit.interval.ms": 5000,
                "log_level": 3,
            }
        )
        consumer.subscribe([DEMO_TOPIC])
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while not self.stop_event.is_set() and (
                deadline is None or time.monotonic() < deadline
            ):
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                self.consumed[group] = self.consumed.get(group, 0) + 1
                if manual:
                    # Commit only after the message is processed: at-least-once.
                    consumer.commit(message=msg, asynchronous=False)
        finally:
            consumer.close()

    def _share(self, *, member: int) -> None:
        # A queue: records are acquired by one member and acknowledged on the next poll.
        consumer = ShareConsumer(
            {
                **self.conf,
                "group.id": SHARE_GROUP,
                "client.id": f"{SHARE_GROUP}-member-{member}",
                "log_level": 3,
            }
        )
        consumer.subscribe([DEMO_TOPIC])
        try:
            while not self.stop_event.is_set():
                got = sum(1 for m in consumer.poll(0.5) if m.error() is None)
                self.consumed[SHARE_GROUP] = self.consumed.get(SHARE_GROUP, 0) + got
        finally:
            consumer.close()


AVRO_TOPIC = "orders_avro"
AVRO_SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "demo",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "user", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 9, "scale": 2}},
        {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status",
                                    "symbols": ["NEW", "PAID", "SHIPPED"]}},
    ],
}  # fmt: skip


@dataclass
class AvroDemo:
    """An Avro topic written by confluent-kafka's AvroSerializer through the registry."""

    conf: dict[str, Any]
    registry_url: str
    rate: float = 1.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        """Create the topic and start producing."""
        from decimal import Decimal

        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        admin = AdminClient({**self.conf, "log_level": 3})
        futures = admin.create_topics([NewTopic(AVRO_TOPIC, 2, 1)], request_timeout=10)
        try:
            futures[AVRO_TOPIC].result(timeout=15)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        serializer = AvroSerializer(
            SchemaRegistryClient({"url": self.registry_url}), json.dumps(AVRO_SCHEMA)
        )

        def run() -> None:
            # The producer lives in the thread, so it is gone before the broker stops
            # (else librdkafka logs "connection refused" after make run says it stopped).
            producer = Producer({**self.conf, "log_level": 3})
            i = 0
            while not self.stop_event.wait(1 / self.rate):
                i += 1
                user = random.choice(DEMO_KEYS)
                record = {
                    "order_id": f"o-{i}",
                    "user": user,
                    "amount": Decimal(random.randint(100, 99999)) / 100,
                    "placed_at": datetime.now(UTC),
                    "status": random.choice(["NEW", "PAID", "SHIPPED"]),
                }
                try:
                    value = serializer(record, SerializationContext(AVRO_TOPIC, MessageField.VALUE))
                    producer.produce(AVRO_TOPIC, key=user.encode(), value=value)
                    producer.poll(0)
                except Exception:  # the registry or broker went away: try again next time
                    log.warning("avro demo: could not produce", exc_info=True)
            producer.flush(5)
            del producer

        self.thread = threading.Thread(target=run, name="demo-avro", daemon=True)
        self.thread.start()

    def stop(self, *, timeout: float = 15) -> None:
        """Stop producing."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)
