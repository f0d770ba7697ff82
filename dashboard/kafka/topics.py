"""Topics, partitions, watermarks and configs (reads), fetched in one round of futures."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import IsolationLevel, TopicPartition
from confluent_kafka.admin import ConfigResource, ConfigSource, OffsetSpec

from dashboard.kafka.client.brokers import BrokerNode, answer, send
from dashboard.kafka.client.clients import admin_client, call, request_timeout, wait
from dashboard.kafka.client.failures import UNKNOWN_TOPIC_OR_PARTITION
from dashboard.kafka.errors import InvalidRequest, TopicNotFound
from dashboard.kafka.internals import Tiering, eligible_leaders, tiering
from dashboard.kafka.protocol.fast import ListOffsetsAsk
from dashboard.kafka.protocol.wire import Unsupported

# Kafka's rule for topic names (org.apache.kafka.common.internals.Topic).
TOPIC_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


@dataclass(frozen=True)
class Watermarks:
    """The first (low) and next (high, log-end) offsets of a partition."""

    low: int
    high: int

    @property
    def messages(self) -> int:
        """Messages retained: high minus low watermark."""
        return max(self.high - self.low, 0)


@dataclass(frozen=True)
class Partition:
    """One partition: leader, replicas, in-sync replicas and watermarks."""

    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    out_of_sync: tuple[int, ...]
    low: int
    high: int
    messages: int
    # Eligible leader replicas and the last known ELR (KIP-966): replicas out of the ISR that
    # still hold every committed record. None when the cluster does not describe them.
    elr: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TopicSummary:
    """A row of the topic list."""

    name: str
    internal: bool
    partitions: int
    replication_factor: int
    messages: int
    under_replicated: int


@dataclass(frozen=True)
class TopicList:
    """Every topic of a cluster and when it was read."""

    cluster: str
    topics: tuple[TopicSummary, ...]
    read_at: datetime


@dataclass(frozen=True)
class TopicConfig:
    """A topic configuration entry; default values are marked as such."""

    name: str
    value: str | None
    is_default: bool
    source: str
    sensitive: bool


@dataclass(frozen=True)
class Topic:
    """A topic's partitions and configs."""

    cluster: str
    name: str
    internal: bool
    partitions: tuple[Partition, ...]
    configs: tuple[TopicConfig, ...]
    messages: int
    replication_factor: int
    under_replicated: int
    read_at: datetime
    # remote.storage.enable (KIP-405): where each partition's records are, local or remote.
    tiering: tuple[Tiering, ...] | None = None
    tiering_error: str | None = None


def topic_name_check(name: str) -> None:
    """InvalidRequest unless the name is a legal Kafka topic name."""
    if not TOPIC_NAME_RE.match(name) or name in {".", ".."}:
        raise InvalidRequest(
            f"{name[:300]!r} is not a valid topic name: use 1-249 letters, digits, '.', '_' or '-'."
        )


def is_internal(name: str) -> bool:
    """Kafka's internal topics (__consumer_offsets, __transaction_state, ...)."""
    return name.startswith("__")


# librdkafka checks a ListOffsets call's partition list for duplicates in quadratic
# time, so one call for 10,000 partitions spends ~0.3 s before sending anything;
# calls of 1,000 partitions avoid that and travel concurrently (bench/topics.py).
LIST_OFFSETS_CHUNK = 1000


def offsets_send(
    *,
    cluster: str,
    keys: Iterable[tuple[str, int]],
    spec: OffsetSpec,
    read_committed: bool = False,
) -> dict[tuple[str, int], Future[Any]]:
    """Send ListOffsets for many partitions (batched per leader, in chunks); futures by key.

    read_committed: the latest offset is then the last stable offset (LSO)."""
    wanted = list(dict.fromkeys(keys))
    admin = admin_client(cluster=cluster)
    futures: dict[tuple[str, int], Future[Any]] = {}
    for start in range(0, len(wanted), LIST_OFFSETS_CHUNK):
        chunk = wanted[start : start + LIST_OFFSETS_CHUNK]
        sent = admin.list_offsets(
            {TopicPartition(t, p): spec for t, p in chunk},
            request_timeout=request_timeout(),
            isolation_level=IsolationLevel.READ_COMMITTED
            if read_committed
            else IsolationLevel.READ_UNCOMMITTED,
        )
        futures.update({(tp.topic, tp.partition): f for tp, f in sent.items()})
    return futures


# Partitions one ListOffsets request of ours asks a leader for (the answer stays well
# under a megabyte: ~20 bytes a partition).
PROTOCOL_CHUNK = 5000


def _chunks(topics: dict[str, list[int]], size: int) -> Iterator[list[tuple[str, list[int]]]]:
    """(topic, partitions) lists of at most `size` partitions, a topic split where needed."""
    chunk: list[tuple[str, list[int]]] = []
    room = size
    for topic, partitions in topics.items():
        start = 0
        while start < len(partitions):
            part = partitions[start : start + room]
            chunk.append((topic, part))
            start += len(part)
            room -= len(part)
            if room == 0:
                yield chunk
                chunk, room = [], size
    if chunk:
        yield chunk


def offsets_fast(
    *,
    cluster: str,
    keys: Iterable[tuple[str, int]],
    timestamps: Iterable[int],
    read_committed: bool = False,
    metadata: Any | None = None,
) -> tuple[dict[tuple[int, tuple[str, int]], int], set[tuple[str, int]]]:
    """ListOffsets through our protocol module: one request a leader (and chunk) for each
    special timestamp (-1 latest, -2 earliest), sent together; ((timestamp, key) -> offset,
    the keys it could not answer). librdkafka's list_offsets makes a future a partition
    (~13 us each, bench/big.py); this decodes the answers in one pass. Partitions with an
    error or no known leader are left to the caller (librdkafka's path), so a moved
    leader or a deleted topic is answered exactly as before."""
    asks = {stamp: (stamp, read_committed) for stamp in timestamps}
    return offsets_asked(cluster=cluster, keys=keys, asks=asks, metadata=metadata)


def offsets_asked(
    *,
    cluster: str,
    keys: Iterable[tuple[str, int]],
    asks: dict[Any, tuple[int, bool]],
    metadata: Any | None = None,
) -> tuple[dict[tuple[Any, tuple[str, int]], int], set[tuple[str, int]]]:
    """offsets_fast for several (timestamp, read_committed) asks at once, all requests in
    flight together; ((label, key) -> offset, the keys some ask could not answer)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted or not asks:
        return {}, set()
    meta = metadata or metadata_recent(cluster=cluster, topics={t for t, _ in wanted})
    nodes = {
        int(b.id): BrokerNode(id=int(b.id), host=str(b.host), port=int(b.port))
        for b in meta.brokers.values()
    }
    by_leader: dict[int, dict[str, list[int]]] = {}
    left: set[tuple[str, int]] = set()
    topics_meta = meta.topics
    for topic, partition in wanted:
        info = topics_meta.get(topic)
        part = info.partitions.get(partition) if info is not None and info.error is None else None
        leader = part.leader if part is not None else -1
        if leader not in nodes:
            left.add((topic, partition))
            continue
        by_leader.setdefault(leader, {}).setdefault(topic, []).append(partition)
    sent = []
    for leader, topics in by_leader.items():
        for chunk in _chunks(topics, PROTOCOL_CHUNK):
            for label, (stamp, committed) in asks.items():
                ask = ListOffsetsAsk(chunk, timestamp=stamp, read_committed=committed)
                future = send(cluster=cluster, node=nodes[leader], name=ask.name, values=ask)
                sent.append((label, chunk, future))
    found: dict[tuple[Any, tuple[str, int]], int] = {}
    for label, chunk, future in sent:
        try:
            rows: list[tuple[str, int, int, int]] = answer(future, cluster=cluster)
        except (InvalidRequest, Unsupported):
            # A broker older than ListOffsets v6 (Kafka 2.5): librdkafka's way.
            left.update((t, p) for t, ps in chunk for p in ps)
            continue
        for name, partition, error, offset in rows:
            if error == 0:
                found[(label, (name, partition))] = offset
            else:
                left.add((name, partition))
    # A key answered for one ask but not another goes the other way whole.
    labels = list(asks)
    for key in wanted:
        if key not in left and any((label, key) not in found for label in labels):
            left.add(key)
    return found, left


def watermarks_all(
    *, cluster: str, partitions: Iterable[tuple[str, int]], metadata: Any | None = None
) -> dict[tuple[str, int], Watermarks]:
    """Low and high watermarks of many partitions: earliest and latest sent together,
    through offsets_fast to the leaders of the metadata given or just read (the rest
    librdkafka's way)."""
    keys = list(partitions)
    found, left = offsets_fast(cluster=cluster, keys=keys, timestamps=(-2, -1), metadata=metadata)
    low = offsets_send(cluster=cluster, keys=left, spec=OffsetSpec.earliest())
    high = offsets_send(cluster=cluster, keys=left, spec=OffsetSpec.latest())
    out = {
        key: Watermarks(low=found[(-2, key)], high=found[(-1, key)])
        for key in keys
        if key not in left
    }
    for key in low:
        out[key] = Watermarks(
            low=wait(low[key], cluster=cluster).offset,
            high=wait(high[key], cluster=cluster).offset,
        )
    return out


# The last metadata read of each cluster, and when: offsets_fast sends to its leaders
# without a metadata call of its own (0.3-0.5 s at 9,000 topics, bench/big.py). A leader
# that has moved since answers NOT_LEADER_OR_FOLLOWER, and that partition goes
# librdkafka's way, which asks afresh: an old map costs time, never a wrong offset.
METADATA_REUSE_S = 30.0
_metadata_last: dict[str, tuple[float, Any]] = {}


def metadata_read(*, cluster: str) -> Any:
    """librdkafka's metadata of every topic and broker, remembered for metadata_recent."""
    admin = admin_client(cluster=cluster)
    meta = call(lambda: admin.list_topics(timeout=request_timeout()), cluster=cluster)
    _metadata_last[cluster] = (time.monotonic(), meta)
    return meta


def metadata_recent(*, cluster: str, topics: set[str]) -> Any:
    """The last metadata read if it is recent and names every topic asked for, else a new one."""
    last = _metadata_last.get(cluster)
    if last is not None and time.monotonic() - last[0] < METADATA_REUSE_S:
        meta = last[1]
        if all(t in meta.topics for t in topics):
            return meta
    return metadata_read(cluster=cluster)


def metadata_topic(*, cluster: str, topic: str) -> Any:
    """The brokers and one topic's metadata (confluent objects): a page of one topic need
    not read 9,000 topics' (0.5 s, bench/big.py)."""
    admin = admin_client(cluster=cluster)
    return call(lambda: admin.list_topics(topic=topic, timeout=request_timeout()), cluster=cluster)


def metadata_topics(*, cluster: str):  # type: ignore[no-untyped-def]
    """The cluster's topic metadata (confluent objects; for use inside the kafka layer)."""
    return metadata_read(cluster=cluster).topics


def _summaries(
    topics: dict[str, Any], *, include_internal: bool, marks: dict[tuple[str, int], Watermarks]
) -> tuple[TopicSummary, ...]:
    """List rows from metadata; messages from the watermarks given (-1 where none were read)."""
    rows = []
    for name, meta in topics.items():
        if not include_internal and is_internal(name):
            continue
        parts = meta.partitions.values()
        counted = [marks[(name, p.id)].messages for p in parts if (name, p.id) in marks]
        rows.append(
            TopicSummary(
                name=name,
                internal=is_internal(name),
                partitions=len(meta.partitions),
                replication_factor=max((len(p.replicas) for p in parts), default=0),
                messages=sum(counted) if counted or not parts else -1,
                under_replicated=sum(1 for p in parts if len(p.isrs) < len(p.replicas)),
            )
        )
    return tuple(sorted(rows, key=lambda r: r.name))


def topic_list(*, cluster: str, include_internal: bool = False) -> TopicList:
    """Every topic with partitions, replication factor, message count, under-replicated count."""
    topics = metadata_topics(cluster=cluster)
    chosen = {n: t for n, t in topics.items() if include_internal or not is_internal(n)}
    marks = watermarks_all(
        cluster=cluster, partitions=((n, p) for n, t in chosen.items() for p in t.partitions)
    )
    rows = _summaries(chosen, include_internal=True, marks=marks)
    return TopicList(cluster=cluster, topics=rows, read_at=datetime.now(UTC))


def topic_index(*, cluster: str, include_internal: bool = False) -> TopicList:
    """Every topic from metadata alone, for sorting and paging; `messages` is -1 (unread)."""
    topics = metadata_topics(cluster=cluster)
    rows = _summaries(topics, include_internal=include_internal, marks={})
    return TopicList(cluster=cluster, topics=rows, read_at=datetime.now(UTC))


def topic_messages(*, cluster: str, partitions: dict[str, int]) -> dict[str, int]:
    """Messages retained in each topic (topic -> partition count), in one batched read."""
    marks = watermarks_all(
        cluster=cluster, partitions=((t, p) for t, n in partitions.items() for p in range(n))
    )
    totals = dict.fromkeys(partitions, 0)
    for (t, _), mark in marks.items():
        totals[t] += mark.messages
    return totals


def _source_name(source: object) -> str:
    if isinstance(source, ConfigSource):
        return source.name.lower()
    try:
        return ConfigSource(source).name.lower()
    except ValueError:
        return "unknown"


def _eligible_leaders(cluster: str, topic: str, brokers: dict[int, Any]) -> dict[int, Any]:
    # Older clusters (before 3.8) lack DescribeTopicPartitions: the page goes without ELR.
    if not brokers:
        return {}
    b = brokers[min(brokers)]
    node = BrokerNode(id=int(b.id), host=str(b.host), port=int(b.port))
    try:
        return eligible_leaders(cluster=cluster, topic=topic, node=node)
    except (Unsupported, InvalidRequest):
        return {}


def topic_detail(*, cluster: str, topic: str) -> Topic:
    """A topic's partitions (leader, replicas, ISR, watermarks) and configs."""
    topic_name_check(topic)
    admin = admin_client(cluster=cluster)
    timeout = request_timeout()
    configs_future = admin.describe_configs(
        [ConfigResource("TOPIC", topic)], request_timeout=timeout
    )
    cluster_meta = call(lambda: admin.list_topics(topic=topic, timeout=timeout), cluster=cluster)
    meta = cluster_meta.topics.get(topic)
    if meta is None or (meta.error is not None and meta.error.code() == UNKNOWN_TOPIC_OR_PARTITION):
        for f in configs_future.values():
            f.cancel()
        raise TopicNotFound(cluster=cluster, topic=topic)
    marks = watermarks_all(
        cluster=cluster, partitions=((topic, p) for p in meta.partitions), metadata=cluster_meta
    )
    elr = _eligible_leaders(cluster, topic, cluster_meta.brokers)
    partitions = []
    for pid in sorted(meta.partitions):
        p = meta.partitions[pid]
        w = marks[(topic, pid)]
        partitions.append(
            Partition(
                partition=pid,
                leader=p.leader,
                replicas=tuple(p.replicas),
                isr=tuple(p.isrs),
                out_of_sync=tuple(r for r in p.replicas if r not in p.isrs),
                low=w.low,
                high=w.high,
                messages=w.messages,
                elr=elr[pid].elr if pid in elr else None,
                last_known_elr=elr[pid].last_known if pid in elr else None,
            )
        )
    entries = next(iter(configs_future.values()))
    raw = wait(entries, cluster=cluster)
    configs = tuple(
        sorted(
            (
                TopicConfig(
                    name=name,
                    value=None if entry.is_sensitive else entry.value,
                    is_default=bool(entry.is_default),
                    source=_source_name(entry.source),
                    sensitive=bool(entry.is_sensitive),
                )
                for name, entry in raw.items()
            ),
            key=lambda c: (c.is_default, c.name),
        )
    )
    tiered, tiering_error = None, None
    if any(c.name == "remote.storage.enable" and c.value == "true" for c in configs):
        leaders = {
            p.partition: BrokerNode(id=b.id, host=str(b.host), port=int(b.port))
            for p in partitions
            if (b := cluster_meta.brokers.get(p.leader)) is not None
        }
        try:
            tiered = tuple(tiering(cluster=cluster, topic=topic, leaders=leaders))
        except (Unsupported, InvalidRequest) as exc:
            tiering_error = f"not available from this cluster: {exc}"[:300]
    return Topic(
        cluster=cluster,
        name=topic,
        internal=is_internal(topic),
        tiering=tiered,
        tiering_error=tiering_error,
        partitions=tuple(partitions),
        configs=configs,
        messages=sum(p.messages for p in partitions),
        replication_factor=max((len(p.replicas) for p in partitions), default=0),
        under_replicated=sum(1 for p in partitions if p.out_of_sync),
        read_at=datetime.now(UTC),
    )


def topic_partition_ids(*, cluster: str, topic: str) -> tuple[int, ...]:
    """The partition numbers of a topic (one metadata request); TopicNotFound if absent."""
    topic_name_check(topic)
    admin = admin_client(cluster=cluster)
    topics = call(
        lambda: admin.list_topics(topic=topic, timeout=request_timeout()), cluster=cluster
    ).topics
    meta = topics.get(topic)
    if meta is None or (meta.error is not None and meta.error.code() == UNKNOWN_TOPIC_OR_PARTITION):
        raise TopicNotFound(cluster=cluster, topic=topic)
    return tuple(sorted(meta.partitions))
