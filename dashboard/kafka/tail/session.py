"""Tail sessions: assign + seek (no group, no commits), a poll thread, a bounded buffer.

A TailSession reads with its own Consumer that never subscribes and never commits,
so tailing shows up in no consumer group and moves no offsets. Its poll loop runs
in a thread and appends rendered records to a buffer; the websocket side drains it
in batches. Nothing is ever thrown away: when the buffer is full (this tail's bound,
or the process-wide TailBudget shared by every tail), the poll thread stops taking
messages until the reader catches up. librdkafka's own prefetch queue then fills and
it stops fetching: Kafka keeps the data, and the reader is told how far behind it is.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.client.clients import (
    call,
    consumer_config,
    wait,
)
from dashboard.kafka.client.failures import UNKNOWN_TOPIC_OR_PARTITION
from dashboard.kafka.errors import InvalidRequest, TopicNotFound
from dashboard.kafka.masking import MaskedMessage, Masker
from dashboard.kafka.registry.client import DecodedMessage, SchemaDecoder, decoder_for
from dashboard.kafka.render import DEFAULT_CAP, render_dict, timestamp_type_name
from dashboard.kafka.tail.request import TailRequest
from dashboard.kafka.topics import metadata_topics, offsets_send, watermarks_all

# A tail that received nothing for IDLE_PROBE_SECONDS asks the cluster for the topic's
# metadata (a cheap request, PROBE_TIMEOUT_SECONDS at most): an idle topic answers, a
# hung or dead broker does not, so the reader learns within ~10 s which of the two it is.
IDLE_PROBE_SECONDS = 4.0
PROBE_TIMEOUT_SECONDS = 2.0
# Buffer bounds per tail: past them the tail stops taking messages (never drops them).
# 10,000 records hold several frames at the tail's top speed; bytes are estimated
# Python memory. A tail may always hold GUARANTEED_BYTES, whatever other tails use.
BUFFER_RECORDS = 10_000
BUFFER_BYTES = 4 * 1024 * 1024
GUARANTEED_BYTES = 64 * 1024
# librdkafka's prefetch. A live tail's is small: a held tail keeps it full, and a small
# message costs ~250 bytes in librdkafka's queue, so its defaults (100,000 messages a
# partition) let fifty held tails grow by gigabytes; count and bytes are both bounded.
TAIL_PREFETCH: dict[str, int] = {
    "queued.min.messages": 100,
    "queued.max.messages.kbytes": 128,
    "max.partition.fetch.bytes": 16 * 1024,
    "fetch.max.bytes": 1024 * 1024,  # librdkafka's least (message.max.bytes)
}
# A search sends only its matches, so its queue drains as fast as it is scanned: larger
# fetches (a few MiB, once per search) keep it from waiting on the broker.
SEARCH_PREFETCH: dict[str, int] = {
    "queued.min.messages": 20_000,
    "queued.max.messages.kbytes": 8 * 1024,
    "max.partition.fetch.bytes": 1024 * 1024,
    "fetch.max.bytes": 4 * 1024 * 1024,
}
# Held this long, a tail gives its prefetched messages back (pause, then seek to the
# next offset not taken): holding briefly is common and refetching costs a round trip.
PURGE_AFTER_SECONDS = 0.5
# While held, the log end is asked of the broker this often (fetching has stopped, so
# librdkafka's cached watermarks would go stale), for at most this many partitions.
HIGH_REFRESH_SECONDS = 2.0
HIGH_REFRESH_PARTITIONS = 64


class TailBudget:
    """Bytes buffered by all the tails of a process, against one limit (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        """Count bytes a tail took (negative: bytes it handed to its reader)."""
        with self._lock:
            self.used += amount

    def exhausted(self) -> bool:
        """Whether the tails of this process hold as much as they may."""
        return self.used >= self.max_bytes


@dataclass(frozen=True)
class PartitionStart:
    """Where one partition's tail starts, with its watermarks at that moment."""

    partition: int
    offset: int
    low: int
    high: int
    end: int | None = None  # a search stops before this offset; None: follow the log


def tail_plan(*, cluster: str, request: TailRequest) -> tuple[PartitionStart, ...]:
    """Resolve where every partition starts; TopicNotFound or InvalidRequest on bad input."""
    topics = metadata_topics(cluster=cluster)
    meta = topics.get(request.topic)
    if meta is None or (meta.error is not None and meta.error.code() == UNKNOWN_TOPIC_OR_PARTITION):
        raise TopicNotFound(cluster=cluster, topic=request.topic)
    existing = sorted(meta.partitions)
    chosen = list(request.partitions) if request.partitions is not None else existing
    unknown = [p for p in chosen if p not in meta.partitions]
    if unknown:
        raise InvalidRequest(
            f"partition {unknown[0]} does not exist: {request.topic!r} has partitions "
            f"0-{len(existing) - 1}."
        )
    if not chosen:
        raise InvalidRequest("choose at least one partition.")
    keys = [(request.topic, p) for p in chosen]
    marks = watermarks_all(cluster=cluster, partitions=keys)
    by_time: dict[tuple[str, int], int] = {}
    if request.start == "timestamp" and request.timestamp_ms is not None:
        futures = offsets_send(
            cluster=cluster, keys=keys, spec=OffsetSpec.for_timestamp(request.timestamp_ms)
        )
        by_time = {k: wait(f, cluster=cluster).offset for k, f in futures.items()}
    end_by_time: dict[tuple[str, int], int] = {}
    if request.end == "timestamp" and request.end_timestamp_ms is not None:
        futures = offsets_send(
            cluster=cluster, keys=keys, spec=OffsetSpec.for_timestamp(request.end_timestamp_ms)
        )
        end_by_time = {k: wait(f, cluster=cluster).offset for k, f in futures.items()}
    starts = []
    for key in keys:
        w = marks[key]
        if request.start == "earliest":
            offset = w.low
        elif request.start == "latest":
            offset = w.high
        elif request.start == "last":
            offset = max(w.high - (request.last or 0), w.low)
        elif request.start == "offset":
            offset = request.offset if request.offset is not None else w.high
            if not w.low <= offset <= w.high:
                raise InvalidRequest(
                    f"offset {offset} is out of range for partition {key[1]}: "
                    f"it holds offsets {w.low} to {w.high} (the next to be written)."
                )
        else:
            # No message at or after the time: start at the end, as Kafka's reset tool does.
            found = by_time.get(key, -1)
            offset = found if found >= 0 else w.high
        end = None
        if request.end == "now":
            end = w.high
        elif request.end == "offset":
            end = min(request.end_offset or 0, w.high)
        elif request.end == "timestamp":
            # The first message at or after the time ends the range (it is not included).
            found = end_by_time.get(key, -1)
            end = found if found >= 0 else w.high
        if end is not None:
            end = max(end, offset)
        starts.append(
            PartitionStart(partition=key[1], offset=offset, low=w.low, high=w.high, end=end)
        )
    return tuple(starts)


def record_dict(msg: Any, *, cap: int = DEFAULT_CAP) -> dict[str, Any]:
    """A consumed confluent Message -> the JSON-ready record the tail sends (rendered, capped)."""
    kind, ts = msg.timestamp()
    headers = msg.headers()
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts if kind != 0 else None,
        "timestamp_type": timestamp_type_name(kind),
        "key": render_dict(msg.key(), cap=cap),
        "value": render_dict(msg.value(), cap=cap),
        "headers": [[str(n), render_dict(v, cap=cap)] for n, v in headers] if headers else [],
    }


def record_failed(msg: Any, exc: BaseException) -> dict[str, Any]:
    """The placeholder of a record that could not be shown: where it is and why, no content."""
    try:
        kind, ts = msg.timestamp()
    except Exception:
        kind, ts = 0, None
    reason = f"this record could not be shown: {type(exc).__name__}"
    empty = {"kind": "error", "text": reason, "size": 0, "truncated": False}
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts if kind != 0 else None,
        "timestamp_type": timestamp_type_name(kind),
        "key": {**empty, "text": ""},
        "value": empty,
        "headers": [],
        "error": reason,
    }


def schema_masked(schema: dict[str, object]) -> dict[str, object]:
    """A record's schema note on a masked topic: a decoder's error may quote the bytes."""
    if "error" not in schema:
        return schema
    return {"id": schema.get("id"), "error": "the record could not be decoded with its schema"}


def record_mark(record: dict[str, Any], masked: dict[str, bool]) -> None:
    """Mark the rendered parts a mask changed, so the page can say so."""
    record["key"]["masked"] = masked["key"]
    record["value"]["masked"] = masked["value"]
    record["masked"] = masked["any"]


def record_json(record: dict[str, Any]) -> bytes:
    """A rendered record as UTF-8 JSON (orjson: ~5x the standard library on records)."""
    try:
        # orjson's bytes keep its 4 KiB working buffer behind them (measured with
        # tracemalloc: 4,098 bytes for a 297-byte record); a copy is exactly its size.
        return bytes(memoryview(orjson.dumps(record)))
    except orjson.JSONEncodeError:
        # A lone surrogate (a header name decoded leniently) is not UTF-8: orjson refuses
        # it, the standard library escapes it.
        return json.dumps(record).encode()


class Encoded(NamedTuple):
    """A record waiting for its reader: where it is from, and its JSON, ready to send.

    Kept encoded, not as dicts: a small record costs ~400 bytes instead of ~1 KB in a
    dozen objects, and fifty busy tails fragmented the heap far less (bench/tail.py).
    """

    partition: int
    offset: int
    timestamp: int | None
    json: bytes

    @property
    def weight(self) -> int:
        """Bytes it holds in memory: the JSON and ~190 bytes of tuple, ints and header."""
        return 192 + len(self.json)


@dataclass
class TailStats:
    """Counters of a tail session (nothing is ever dropped: the socket says so)."""

    consumed: int = 0
    matched: int = 0
    delivered: int = 0
    state: str = "starting"
    error: str | None = None
    held: bool = False  # full: not taking messages until the reader catches up


@dataclass(frozen=True)
class Behind:
    """How far the reader is behind the log end: per partition and in all."""

    messages: int
    seconds: float | None  # age of the newest record delivered, when behind
    partitions: tuple[tuple[int, int, int, int], ...]  # (partition, next, high, behind)


class TailSession:
    """One live tail: a Consumer in a thread feeding a buffer that never drops."""

    def __init__(
        self,
        *,
        cluster: str,
        request: TailRequest,
        starts: Sequence[PartitionStart],
        budget: TailBudget | None = None,
        max_records: int = BUFFER_RECORDS,
        max_bytes: int = BUFFER_BYTES,
        limit: int | None = None,
        notify: Callable[[], None] | None = None,
        masker: Masker | None = None,
    ) -> None:
        self.cluster = cluster
        # Masks hide parts of values before anything leaves the server; the filter sees
        # the masked values too, so a search cannot find what the mask hides.
        self._masker = masker
        # Records in the registry's wire format are decoded when the cluster has a registry.
        self._decoder: SchemaDecoder | None = decoder_for(cluster)
        # Called from the poll thread when records wait where none did, or a search ends:
        # the reader's side sleeps until then instead of looking every few milliseconds.
        self._notify = notify or (lambda: None)
        self.request = request
        self.starts = tuple(starts)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.budget = budget or TailBudget(max_bytes)
        self.stats = TailStats()
        self._buffer: deque[Encoded] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._room = threading.Event()  # set by drain(): the poll thread may take again
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._match = request.filter.message_matcher()
        # Records the reader may still be sent (page mode); None: no limit.
        self._allowance = limit
        # Per partition: the next offset the reader has not been sent, and the log end.
        self._next = {s.partition: s.offset for s in self.starts}
        # Per partition: one past the last offset consumed (matched or not), by batch.
        self._consumed_next = dict(self._next)
        self._high = {s.partition: s.high for s in self.starts}
        self._last_timestamp: int | None = None
        # A search: each partition's end (exclusive) and how far it has been scanned.
        self._end = {s.partition: s.end for s in self.starts if s.end is not None}
        self._scanned = {s.partition: s.offset for s in self.starts}
        self._done = {p for p, end in self._end.items() if self._scanned[p] >= end}
        self._finished: str | None = None  # why a search ended: "end" or "max_matches"
        self._to_pause: list[int] = []
        if self._end and len(self._done) == len(self._end):
            self._finished = "end"

    def start(self) -> None:
        """Create the consumer, assign the partitions at their start offsets, start polling."""
        conf = consumer_config(
            cluster=self.cluster,
            purpose="tail",
            **{
                # When retention deletes the position, go on from the oldest message left.
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                # A search learns that a partition has nothing more before its end.
                "enable.partition.eof": bool(self._end),
                **(SEARCH_PREFETCH if self._end else TAIL_PREFETCH),
                # Over those limits librdkafka waits this long before it looks again
                # (1 s by default): with a small queue that starves a fast reader.
                "fetch.queue.backoff.ms": 5,
                # Connection failures come as client errors, not as failed messages.
                "error_cb": self._on_error,
            },
        )
        # A setting the cluster's config adds may clash with ours: an error frame, not a 1011.
        consumer = call(lambda: Consumer(conf), cluster=self.cluster)
        call(
            lambda: consumer.assign(
                [TopicPartition(self.request.topic, s.partition, s.offset) for s in self.starts]
            ),
            cluster=self.cluster,
        )
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name=f"tail-{self.request.topic}", daemon=True
        )
        self.stats.state = "running"
        self._thread.start()

    def _probe(self, consumer: Consumer) -> bool:
        """Whether the cluster answers a metadata request for the topic right now."""
        try:
            consumer.list_topics(self.request.topic, timeout=PROBE_TIMEOUT_SECONDS)
        except Exception:  # any failure means "not answering"
            return False
        return True

    def _full(self) -> bool:
        """Whether this tail must stop taking messages for now (never drop them)."""
        if len(self._buffer) >= self.max_records or self._bytes >= self.max_bytes:
            return True
        return self._bytes >= GUARANTEED_BYTES and self.budget.exhausted()

    def _highs_refresh(self, consumer: Consumer, *, cached: bool) -> None:
        """The log end of each partition: cached from fetches, or asked when held."""
        for partition in list(self._high)[:HIGH_REFRESH_PARTITIONS]:
            try:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(self.request.topic, partition),
                    timeout=PROBE_TIMEOUT_SECONDS,
                    cached=cached,
                )
            except Exception:  # not known yet, or the cluster does not answer now
                continue
            if high is not None and high >= 0:
                self._high[partition] = high

    def _fetching(self) -> list[TopicPartition]:
        """The partitions that may fetch: all but those searched to their end."""
        return [TopicPartition(self.request.topic, p) for p in self._next if p not in self._done]

    def _purge(self, consumer: Consumer) -> None:
        """Stop fetching and hand librdkafka's prefetched messages back to Kafka."""
        consumer.pause(self._fetching())
        for partition in self._fetching():
            # Seeking to the next offset not taken discards what librdkafka fetched past
            # it; it is fetched again on resume. Nothing is skipped, no memory is held.
            position = self._consumed_next[partition.partition]
            with contextlib.suppress(KafkaException):  # not fetching yet: nothing held
                consumer.seek(TopicPartition(self.request.topic, partition.partition, position))

    def _run(self, consumer: Consumer) -> None:
        paused = purged = False
        fetching = True  # what librdkafka was last told
        held_since: float | None = None
        # Messages taken from librdkafka at a time: a batch is alive (payloads and all)
        # while it is rendered, in every tail's thread at once; a search renders little.
        batch = 500 if self._end else 100
        probe_at = refresh_at = 0.0
        heard_at = time.monotonic()  # last message or answered probe
        try:
            while not self._stop.is_set():
                if self._paused.is_set() != paused:
                    paused = self._paused.is_set()
                    self.stats.state = "paused" if paused else "running"
                if (not paused and not purged) != fetching:
                    fetching = not fetching
                    (consumer.resume if fetching else consumer.pause)(self._fetching())
                if self._to_pause:
                    # Searched to its end: fetch no further on these partitions.
                    done, self._to_pause = self._to_pause, []
                    consumer.pause([TopicPartition(self.request.topic, p) for p in done])
                if self._finished is not None:
                    self._room.wait(0.1)  # the search is over; wait for stop()
                    continue
                with self._lock:
                    full = self._full()
                    self._room.clear()
                self.stats.held = full
                if full:
                    # Take nothing: librdkafka's queue fills and it stops fetching. Held
                    # for long, its queue is given back too (fifty held tails kept
                    # ~100 MB of prefetched messages).
                    now = time.monotonic()
                    if held_since is None:
                        held_since = now
                    elif not purged and now - held_since >= PURGE_AFTER_SECONDS:
                        self._purge(consumer)
                        purged, fetching = True, False
                    if now >= refresh_at:
                        refresh_at = now + HIGH_REFRESH_SECONDS
                        self._highs_refresh(consumer, cached=False)
                    self._room.wait(0.1)
                    heard_at = time.monotonic()  # quiet on purpose: not a sign of trouble
                    continue
                held_since = None
                if purged:
                    purged = False
                    continue  # resume fetching (unless paused) at the top of the loop
                messages = consumer.consume(num_messages=batch, timeout=0.1)
                if messages:
                    self._take(messages)
                got = bool(messages)
                # Only a tail that lost the cluster asks whether this batch is all data.
                failed = self.stats.state == "unavailable" and any(m.error() for m in messages)
                del messages  # not kept (with their payloads) while this tail waits
                now = time.monotonic()
                if now >= refresh_at:
                    refresh_at = now + 1.0
                    self._highs_refresh(consumer, cached=True)
                if got:
                    heard_at = now
                elif not paused:
                    self._caught_up(consumer)
                if (
                    not got
                    and self.stats.state == "running"
                    and now - heard_at >= IDLE_PROBE_SECONDS
                ):
                    # Nothing for a while: an idle topic, or a cluster that hangs?
                    if self._probe(consumer):
                        heard_at = time.monotonic()
                    else:
                        self.stats.error = "the cluster does not answer (no reply to a probe)"
                        self.stats.state = "unavailable"
                if self.stats.state == "unavailable":
                    # librdkafka reconnects and fetches on by itself; ask for metadata now
                    # and then, to learn that the broker is back even on an idle topic.
                    if got and not failed:
                        self._recovered(paused)
                    elif now >= probe_at:
                        probe_at = now + 1.0
                        if self._probe(consumer):
                            heard_at = time.monotonic()
                            self._recovered(paused)
        finally:
            consumer.close()

    def _caught_up(self, consumer: Consumer) -> None:
        """Nothing more to take: the reader is at the consumer's own position.

        That can be past the last record received: a transaction's commit or abort
        marker takes an offset that is never a record (a tail of one committed
        transaction of 5 records read all 5 and stayed "1 behind" forever), and
        read_committed skips aborted records. librdkafka's position steps over both.
        """
        with self._lock:
            if self._buffer:
                return  # records still to send: the reader is behind them
        try:
            positions = consumer.position(self._fetching())
        except KafkaException:
            return
        with self._lock:
            if self._buffer:
                return
            for tp in positions:
                taken = self._consumed_next.get(tp.partition)
                if taken is None or tp.offset is None or tp.offset < 0:
                    continue
                # Only forward, and only over what holds no record for the reader.
                if tp.offset > taken:
                    self._consumed_next[tp.partition] = tp.offset
                    self._next[tp.partition] = max(self._next[tp.partition], tp.offset)

    def _on_error(self, error: KafkaError) -> None:
        # Called from consume() in the poll thread.
        self.stats.error = error.str()
        self.stats.state = "unavailable"

    def _recovered(self, paused: bool) -> None:
        self.stats.state = "paused" if paused else "running"
        self.stats.error = None

    def _reached(self, partition: int, position: int) -> bool:
        """A partition was scanned up to position (exclusive); whether the search is done."""
        end = self._end.get(partition)
        if end is None:
            return False
        if partition not in self._done:
            self._scanned[partition] = max(self._scanned[partition], min(position, end))
            if position >= end:
                self._done.add(partition)
                self._to_pause.append(partition)
        return len(self._done) == len(self._end)

    def _take(self, messages: list[Any]) -> None:
        """Count, filter and render a batch from consume(): one pass, one lock."""
        # The hot loop of the tail and of a search: locals only, no call per message
        # but the client's accessors and the filter (bench/tail.py measures it).
        if self._finished is not None:
            return
        match, end_of, masker, decoder = self._match, self._end, self._masker, self._decoder
        # A search's partitions: the last offset in range before which a message needs no
        # end check (one comparison in the common case); -1 once done: all are past it.
        last_of = {p: -1 if p in self._done else end - 1 for p, end in end_of.items()}
        unbounded = 1 << 62
        max_matches = self.request.max_matches
        consumed_next: dict[int, int] = {}  # merged under the lock once the batch is done
        taken: list[Encoded] = []
        consumed = weights = 0
        matched = self.stats.matched
        # Why the search ends, published only with this batch's counts and records: the
        # send loop must not see "done" before the last matches are in the buffer.
        finished: str | None = None
        for msg in messages:
            if finished is not None:
                break
            error = msg.error()
            partition = msg.partition()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    if self._reached(int(partition or 0), int(msg.offset() or 0)):
                        finished = "end"
                else:
                    self.stats.error = error.str()
                    self.stats.state = "unavailable"
                continue
            offset = msg.offset()
            if offset >= last_of.get(partition, unbounded):
                if offset > last_of[partition]:  # past the end: not part of the search
                    if self._reached(partition, offset):
                        finished = "end"
                    continue
                if self._reached(partition, offset + 1):  # the last offset in range
                    finished = "end"
                last_of[partition] = -1
            consumed += 1
            consumed_next[partition] = offset + 1
            try:
                # Decoded first (masks and filters apply to the decoded JSON), then masked.
                decoded = msg if decoder is None else DecodedMessage(msg, decoder)
                seen = decoded if masker is None else MaskedMessage(decoded, masker)
                if match is not None and not match(seen):
                    continue  # scanned, not shown: the reader is past it all the same
                record = record_dict(seen)
                if isinstance(seen, MaskedMessage):
                    record_mark(record, seen.masked)
                if isinstance(decoded, DecodedMessage):
                    for part, schema in decoded.schemas.items():
                        record[part]["schema"] = schema if masker is None else schema_masked(schema)
                encoded = Encoded(partition, offset, record["timestamp"], record_json(record))
            except Exception as exc:
                # One record that cannot be read, matched or rendered is that record's
                # placeholder; the tail goes on (a dead poll thread would stop it for good).
                record = record_failed(msg, exc)
                encoded = Encoded(partition, offset, record["timestamp"], record_json(record))
            taken.append(encoded)
            weights += encoded.weight
            matched += 1
            if max_matches is not None and matched >= max_matches:
                finished = "max_matches"
        if end_of:
            for partition, position in consumed_next.items():
                if partition not in self._done and partition in end_of:
                    self._scanned[partition] = max(self._scanned[partition], position)
        self.stats.consumed += consumed
        self.stats.matched = matched
        with self._lock:
            self._consumed_next.update(consumed_next)
            was_empty = not self._buffer
            if taken:
                self._buffer.extend(taken)
                self._bytes += weights
            elif was_empty:
                # Nothing waits: every message consumed was sent or skipped by the filter.
                self._next.update(consumed_next)
            if finished is not None:
                self._finished = finished
        if weights:
            self.budget.add(weights)
        if (taken and was_empty) or finished is not None:
            self._notify()

    def drain(self, *, max_records: int = 5000, max_bytes: int = 640 * 1024) -> list[bytes]:
        """Take up to max_records (and about max_bytes of JSON) records, oldest first, encoded."""
        out: list[bytes] = []
        size = freed = 0
        last: Encoded | None = None
        with self._lock:
            if self._allowance is not None:
                max_records = min(max_records, self._allowance)
            buffer, after = self._buffer, self._next
            while buffer and len(out) < max_records and size < max_bytes:
                last = buffer.popleft()
                freed += last.weight
                size += len(last.json) + 1
                out.append(last.json)
                after[last.partition] = last.offset + 1
            self._bytes -= freed
            if not buffer:
                after.update(self._consumed_next)
            if last is not None:
                self._last_timestamp = last.timestamp
            if self._allowance is not None:
                self._allowance -= len(out)
            self._room.set()
        self.budget.add(-freed)
        self.stats.delivered += len(out)
        return out

    def more(self, count: int) -> None:
        """Page mode: let count more records go to the reader."""
        with self._lock:
            self._allowance = (self._allowance or 0) + count

    @property
    def allowance(self) -> int | None:
        """Records the reader may still be sent in page mode (None: no limit)."""
        return self._allowance

    def behind(self) -> Behind:
        """How far the reader is behind the log end, from the watermarks and what it got."""
        with self._lock:
            rows = tuple(
                (p, self._next[p], self._high.get(p, self._next[p]), 0) for p in sorted(self._next)
            )
            last = self._last_timestamp
        rows = tuple((p, n, h, max(h - n, 0)) for p, n, h, _ in rows)
        total = sum(r[3] for r in rows)
        seconds = None
        if total and last is not None:
            seconds = max(time.time() - last / 1000, 0.0)
        return Behind(messages=total, seconds=seconds, partitions=rows)

    @property
    def search(self) -> bool:
        """Whether this session searches a range (it ends by itself) rather than follows."""
        return bool(self._end)

    def finished(self) -> str | None:
        """Why the search is over ("end", "max_matches"), once its matches are all sent."""
        with self._lock:
            return self._finished if not self._buffer else None

    def progress(self) -> dict[str, Any]:
        """A search's progress: offsets scanned of its range, per partition and in all."""
        rows = []
        for s in self.starts:
            end = self._end.get(s.partition, s.offset)
            rows.append(
                {
                    "partition": s.partition,
                    "start": s.offset,
                    "end": end,
                    "position": min(self._scanned[s.partition], end),
                }
            )
        total = sum(r["end"] - r["start"] for r in rows)
        scanned = sum(r["position"] - r["start"] for r in rows)
        return {"scanned": scanned, "total": total, "partitions": rows}

    def buffered(self) -> int:
        """Records waiting for the reader."""
        with self._lock:
            return len(self._buffer)

    def sendable(self) -> int:
        """Records the reader may be sent now: those waiting, within page mode's allowance."""
        with self._lock:
            if self._allowance is None:
                return len(self._buffer)
            return min(len(self._buffer), self._allowance)

    def pause(self) -> None:
        """Stop fetching (Kafka keeps the messages; nothing is dropped while paused)."""
        self._paused.set()

    def resume(self) -> None:
        """Fetch again from where the tail paused."""
        self._paused.clear()

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop the poll thread, close the consumer and give back the buffered bytes."""
        self._stop.set()
        self._room.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)
        with self._lock:
            held, self._bytes = self._bytes, 0
            self._buffer.clear()
        self.budget.add(-held)
        self.stats.state = "stopped"

    @property
    def alive(self) -> bool:
        """Whether the poll thread still runs."""
        return self._thread is not None and self._thread.is_alive()
