"""Offset commits as they happen, read from `__consumer_offsets` (commit times included).

OffsetFetch tells only *where* a group is, not *when* it last committed, so a
consumer that keeps committing the same offset (stalled) cannot be told from one
that stopped. The group coordinator writes every commit to `__consumer_offsets`
with its commit timestamp; Burrow reads the same topic for the same reason.
Record layout (Kafka 4.x, group-coordinator `common/message/OffsetCommitKey.json`
and `OffsetCommitValue.json`): key = int16 record type (0 legacy or 1 = offset
commit) + group, topic (int16-length strings) + partition (int32); value = int16
version + offset (int64) + leaderEpoch (int32, v3+) + metadata (string; compact
from v4) + commitTimestamp (int64). A null value is a deletion (tombstone).
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from dashboard.kafka.client.clients import (
    consumer_config,
    request_timeout,
)

OFFSETS_TOPIC = "__consumer_offsets"
_OFFSET_COMMIT_KEY_TYPES = (0, 1)


@dataclass(frozen=True)
class Commit:
    """One offset commit of a group for a partition; offset None when it was deleted."""

    group: str
    topic: str
    partition: int
    offset: int | None
    commit_timestamp_ms: int | None


@dataclass(frozen=True)
class CommitState:
    """The latest commit seen for a (group, topic, partition) and how many were seen."""

    offset: int | None
    commit_timestamp_ms: int | None
    commits: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        length = self.take(">h")
        raw = self.data[self.pos : self.pos + max(length, 0)]
        self.pos += max(length, 0)
        return raw.decode("utf-8", "replace")

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def compact_string(self) -> str:
        length = self.uvarint() - 1
        raw = self.data[self.pos : self.pos + max(length, 0)]
        self.pos += max(length, 0)
        return raw.decode("utf-8", "replace")


def commit_parse(key: bytes | None, value: bytes | None) -> Commit | None:
    """An offset commit from a `__consumer_offsets` record; None for other record types."""
    if not key or len(key) < 2:
        return None
    try:
        k = _Reader(key)
        if k.take(">h") not in _OFFSET_COMMIT_KEY_TYPES:
            return None  # group metadata, KIP-848 member/assignment records, ...
        group, topic, partition = k.string(), k.string(), k.take(">i")
        if value is None:
            return Commit(group, topic, partition, None, None)
        v = _Reader(value)
        version = v.take(">h")
        offset = v.take(">q")
        if version >= 3:
            v.take(">i")  # leader epoch
        if version >= 4:
            v.compact_string()
        else:
            v.string()
        commit_ms = v.take(">q")
    except (struct.error, IndexError):
        return None  # a layout this reader does not know: skip, never crash the sampler
    return Commit(group, topic, partition, offset, commit_ms)


class CommitWatcher:
    """Reads `__consumer_offsets` from its start in a thread and keeps each partition's last commit.

    Starting from the beginning recovers the last commit of every live offset
    (the topic is compacted, and the newest record per key is kept).
    """

    def __init__(self, *, cluster: str, on_error: Callable[[str], None] | None = None) -> None:
        self.cluster = cluster
        self._state: dict[tuple[str, str, int], CommitState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_error = on_error
        self.error: str | None = None
        self.assigned = False
        self._eof: set[int] = set()
        self._partitions = 0

    def start(self) -> None:
        """Start the reading thread (it assigns once the offsets topic exists); once."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(
            target=self._run, name=f"commits-{self.cluster}", daemon=True
        )
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop reading and close the consumer."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def died(self) -> bool:
        """Whether the reading thread was started and has ended without stop()."""
        thread = self._thread
        return thread is not None and not thread.is_alive() and not self._stop.is_set()

    def snapshot(self) -> dict[tuple[str, str, int], CommitState]:
        """The latest commit per (group, topic, partition) seen so far."""
        with self._lock:
            return dict(self._state)

    def _error(self, error: KafkaError) -> None:
        self.error = error.str()
        if self._on_error is not None:
            self._on_error(self.error)

    def _run(self) -> None:
        consumer = Consumer(
            consumer_config(
                cluster=self.cluster,
                purpose="commits",
                **{
                    # Commits inside a transaction count only once it commits.
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 200,
                    # End-of-partition events tell when the existing commits are all read.
                    "enable.partition.eof": True,
                    "queued.max.messages.kbytes": 8192,
                    "error_cb": self._error,
                },
            )
        )
        try:
            while not self._stop.is_set() and not self.assigned:
                self._assign(consumer)
                if not self.assigned:
                    self._stop.wait(1.0)
            while not self._stop.is_set():
                try:
                    messages = consumer.consume(num_messages=1000, timeout=0.2)
                except Exception as exc:  # a broker in trouble must not end the reader
                    self.error = str(exc)
                    self._stop.wait(1.0)
                    continue
                for msg in messages:
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            self._eof.add(int(msg.partition() or 0))
                        continue
                    commit = commit_parse(msg.key(), msg.value())
                    if commit is not None:
                        self._take(commit)
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> None:
        # Until a first group commits, the offsets topic does not exist: try again later.
        try:
            meta = consumer.list_topics(OFFSETS_TOPIC, timeout=request_timeout())
        except Exception as exc:  # the cluster is down; librdkafka also reports it via error_cb
            self.error = str(exc)
            return
        topic = meta.topics.get(OFFSETS_TOPIC)
        if topic is None or topic.error is not None or not topic.partitions:
            return
        consumer.assign(
            [TopicPartition(OFFSETS_TOPIC, p, OFFSET_BEGINNING) for p in sorted(topic.partitions)]
        )
        self._partitions = len(topic.partitions)
        self.assigned = True

    @property
    def caught_up(self) -> bool:
        """True once every commit that existed at start has been read."""
        return self.assigned and len(self._eof) >= self._partitions

    def _take(self, commit: Commit) -> None:
        key = (commit.group, commit.topic, commit.partition)
        with self._lock:
            previous = self._state.get(key)
            count = (previous.commits if previous else 0) + 1
            self._state[key] = CommitState(commit.offset, commit.commit_timestamp_ms, count)

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float) -> bool:
        """Wait until predicate() holds or timeout passes (for start-up and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()
