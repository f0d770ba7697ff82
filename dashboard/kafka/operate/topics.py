"""Changes to topics: create, add partitions (with what it does to keyed data), purge, delete."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import NewPartitions, NewTopic, OffsetSpec

from dashboard.kafka.client.clients import (
    admin_client,
    consumer_config,
    request_timeout,
    wait,
)
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.errors import ClusterUnavailable, InvalidRequest, KafkaViewError
from dashboard.kafka.partitioner import PARTITIONERS, partition_for_key
from dashboard.kafka.topics import (
    offsets_send,
    topic_name_check,
    topic_partition_ids,
    watermarks_all,
)

MAX_PARTITIONS = 10_000
MAX_REPLICATION_FACTOR = 32
MAX_CONFIGS = 200
KEY_SAMPLE = 1000  # the last records (over all partitions) whose keys the preview hashes


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """InvalidRequest for a name, count or config Kafka would refuse (before asking it)."""
        topic_name_check(self.name)
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise InvalidRequest(f"Partitions: give 1 to {MAX_PARTITIONS}, not {self.partitions}.")
        if not 1 <= self.replication_factor <= MAX_REPLICATION_FACTOR:
            raise InvalidRequest(
                f"Replication factor: give 1 to {MAX_REPLICATION_FACTOR}, "
                f"not {self.replication_factor}."
            )
        if len(self.configs) > MAX_CONFIGS:
            raise InvalidRequest(f"At most {MAX_CONFIGS} configs.")


def topic_create(*, cluster: str, spec: TopicSpec, validate_only: bool) -> None:
    """Create the topic (or, validate_only, have the broker check it); Kafka's refusal is
    InvalidRequest (exists, replication factor above the broker count, bad config)."""
    spec.check()
    admin = admin_client(cluster=cluster)
    requests_count(cluster=cluster, call="CreateTopics")
    futures = admin.create_topics(
        [NewTopic(spec.name, spec.partitions, spec.replication_factor, config=dict(spec.configs))],
        validate_only=validate_only,
        request_timeout=request_timeout(),
    )
    wait(futures[spec.name], cluster=cluster)


def leaders_wait(
    *,
    cluster: str,
    topic: str,
    partitions: int,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> bool:
    """Wait (up to the request timeout) until the topic has its partitions, each led and
    answering for its offsets (a new leader answers NOT_LEADER for a moment: a 503 on the
    page that follows the create)."""
    admin = admin_client(cluster=cluster)
    deadline = monotonic() + request_timeout()
    while True:
        meta = admin.list_topics(topic=topic, timeout=request_timeout()).topics.get(topic)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) >= partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            try:
                watermarks_all(cluster=cluster, partitions=((topic, p) for p in meta.partitions))
                return True
            except ClusterUnavailable:
                pass
        if monotonic() > deadline:
            return False
        sleep(0.05)


@dataclass(frozen=True)
class KeyMovement:
    """What adding partitions does to the keys of the newest records, under one partitioner."""

    partitioner: str
    label: str
    keys: int  # distinct keys sampled
    moved: int  # of them, how many hash to another partition after the change
    examples: tuple[tuple[str, int, int], ...]  # (key, partition before, after)


@dataclass(frozen=True)
class PartitionPlan:
    """A previewed partition increase."""

    cluster: str
    topic: str
    before: int
    after: int
    records_sampled: int
    unkeyed: int
    movements: tuple[KeyMovement, ...]


def keys_sample(*, cluster: str, topic: str, limit: int = KEY_SAMPLE) -> tuple[list[bytes], int]:
    """The keys of (up to) the last `limit` records of a topic, spread over its partitions,
    and how many records were read."""
    ids = topic_partition_ids(cluster=cluster, topic=topic)
    marks = watermarks_all(cluster=cluster, partitions=((topic, p) for p in ids))
    per = max(limit // max(len(ids), 1), 1)
    wanted = {
        p: (max(w.low, w.high - per), w.high) for (_, p), w in marks.items() if w.high > w.low
    }
    if not wanted:
        return [], 0
    consumer = Consumer(
        consumer_config(
            cluster=cluster,
            purpose="keys",
            **{"enable.partition.eof": True, "fetch.wait.max.ms": 50},
        )
    )
    keys: list[bytes] = []
    read = 0
    try:
        requests_count(cluster=cluster, call="Fetch", n=len(wanted))
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in wanted.items()])
        open_ = set(wanted)
        deadline = time.monotonic() + request_timeout() * 2
        while open_ and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.2):
                error = message.error()
                partition, offset = message.partition(), message.offset()
                if partition is None or offset is None:
                    continue
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_.discard(partition)
                    continue
                if partition not in open_ or offset >= wanted[partition][1]:
                    open_.discard(partition)
                    continue
                read += 1
                key = message.key()
                if key is not None:
                    keys.append(key)
                if offset + 1 >= wanted[partition][1]:
                    open_.discard(partition)
    finally:
        consumer.close()
    return keys, read


def partitions_plan(*, cluster: str, topic: str, count: int) -> PartitionPlan:
    """What growing the topic to `count` partitions moves: per partitioner, the distinct
    keys of the newest records that would hash to a different partition."""
    before = len(topic_partition_ids(cluster=cluster, topic=topic))
    if count <= before:
        raise InvalidRequest(
            f"Topic {topic!r} has {before} partitions: Kafka can only add partitions, so give "
            f"more than {before} (a topic never shrinks)."
        )
    if count > MAX_PARTITIONS:
        raise InvalidRequest(f"At most {MAX_PARTITIONS} partitions.")
    keys, read = keys_sample(cluster=cluster, topic=topic)
    distinct = sorted(set(keys))
    movements = []
    for name, label in PARTITIONERS.items():
        moved = [
            (
                k,
                partition_for_key(k, before, partitioner=name),
                partition_for_key(k, count, partitioner=name),
            )
            for k in distinct
        ]
        moved = [m for m in moved if m[1] != m[2]]
        movements.append(
            KeyMovement(
                partitioner=name,
                label=label,
                keys=len(distinct),
                moved=len(moved),
                examples=tuple((k.decode("utf-8", "replace")[:80], a, b) for k, a, b in moved[:10]),
            )
        )
    return PartitionPlan(
        cluster=cluster,
        topic=topic,
        before=before,
        after=count,
        records_sampled=read,
        unkeyed=read - len(keys),
        movements=tuple(movements),
    )


def partitions_add(*, cluster: str, topic: str, count: int, validate_only: bool = False) -> None:
    """Grow the topic to `count` partitions (CreatePartitions)."""
    admin = admin_client(cluster=cluster)
    requests_count(cluster=cluster, call="CreatePartitions")
    futures = admin.create_partitions(
        [NewPartitions(topic, count)],
        validate_only=validate_only,
        request_timeout=request_timeout(),
    )
    wait(futures[topic], cluster=cluster)


@dataclass(frozen=True)
class PurgeRow:
    """One partition of a purge: the low watermark before and after, records removed."""

    partition: int
    low: int
    high: int
    new_low: int

    @property
    def removed(self) -> int:
        """Records the purge deletes from this partition."""
        return self.new_low - self.low


@dataclass(frozen=True)
class PurgePlan:
    """A previewed delete of records (DeleteRecords): per partition, before -> after."""

    cluster: str
    topic: str
    mode: str  # "all", "offset" or "timestamp"
    value: int | None
    rows: tuple[PurgeRow, ...]
    fingerprint: str

    @property
    def removed(self) -> int:
        """Records the purge deletes in all."""
        return sum(r.removed for r in self.rows)


class PurgePlanChanged(KafkaViewError):
    """The partitions moved since the preview (records written or removed); carries the new plan."""

    def __init__(self, plan: PurgePlan) -> None:
        self.plan = plan
        super().__init__(
            f"The partitions of {plan.topic!r} changed since the preview: "
            "check it and confirm again."
        )


PURGE_MODES = ("all", "offset", "timestamp")


def purge_plan(
    *,
    cluster: str,
    topic: str,
    mode: str,
    value: int | None = None,
    partitions: Sequence[int] | None = None,
) -> PurgePlan:
    """Where each partition's log would start after deleting records before an offset, before
    a time, or all of them; an offset past the high watermark is refused."""
    if mode not in PURGE_MODES:
        raise InvalidRequest(f"Purge: choose one of {', '.join(PURGE_MODES)}, not {mode[:30]!r}.")
    if mode != "all" and (value is None or value < 0):
        raise InvalidRequest(f"Purge by {mode}: give a whole number of at least 0.")
    ids = topic_partition_ids(cluster=cluster, topic=topic)
    chosen = list(ids) if not partitions else sorted(set(partitions))
    unknown = [p for p in chosen if p not in ids]
    if unknown:
        raise InvalidRequest(
            f"Topic {topic!r} has partitions 0-{len(ids) - 1}; there is no partition {unknown[0]}."
        )
    keys = [(topic, p) for p in chosen]
    marks = watermarks_all(cluster=cluster, partitions=keys)
    by_time: dict[tuple[str, int], int] = {}
    if mode == "timestamp" and value is not None:
        futures = offsets_send(cluster=cluster, keys=keys, spec=OffsetSpec.for_timestamp(value))
        by_time = {k: wait(f, cluster=cluster).offset for k, f in futures.items()}
    rows = []
    for key in keys:
        mark = marks[key]
        if mode == "all":
            target = mark.high
        elif mode == "offset":
            assert value is not None
            if value > mark.high:
                raise InvalidRequest(
                    f"Partition {key[1]} ends at offset {mark.high} (its high watermark): "
                    f"records before {value} cannot be deleted, give at most {mark.high}."
                )
            target = value
        else:
            found = by_time[key]
            target = mark.high if found < 0 else found  # -1: no record at or after the time
        rows.append(
            PurgeRow(partition=key[1], low=mark.low, high=mark.high, new_low=max(target, mark.low))
        )
    text = json.dumps([topic, mode, value, [list(vars(r).values()) for r in rows]])
    return PurgePlan(
        cluster=cluster,
        topic=topic,
        mode=mode,
        value=value,
        rows=tuple(rows),
        fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def purge_apply(*, plan: PurgePlan) -> dict[int, int | str]:
    """Delete the records of the plan (DeleteRecords); per partition the new low watermark,
    or the error Kafka gave for it."""
    doing = [r for r in plan.rows if r.removed > 0]
    if not doing:
        return {}
    admin = admin_client(cluster=plan.cluster)
    requests_count(cluster=plan.cluster, call="DeleteRecords")
    futures = admin.delete_records(
        [TopicPartition(plan.topic, r.partition, r.new_low) for r in doing],
        request_timeout=request_timeout(),
    )
    out: dict[int, int | str] = {}
    for tp, future in futures.items():
        try:
            out[tp.partition] = wait(future, cluster=plan.cluster).low_watermark
        except InvalidRequest as exc:
            out[tp.partition] = str(exc)
    return out


def topic_delete(*, cluster: str, topic: str) -> None:
    """Delete the topic (DeleteTopics); Kafka's refusal is InvalidRequest."""
    topic_partition_ids(cluster=cluster, topic=topic)  # TopicNotFound first
    admin = admin_client(cluster=cluster)
    requests_count(cluster=cluster, call="DeleteTopics")
    futures = admin.delete_topics([topic], request_timeout=request_timeout())
    wait(futures[topic], cluster=cluster)


def configs_parse(data: object) -> dict[str, str]:
    """Topic configs of a create from JSON-like input ({key: value}) as strings."""
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in data.items()
    ):
        raise InvalidRequest('"configs" must map config keys to values (strings or numbers).')
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in data.items()}
