"""Send the records of a search again: republish them to one topic, or redrive a dead-letter
topic, each record back to the topic its header names.

Both read with the export's reader (the same range, filter and decoder) and never change
the topic they read. A preview reads the range and says where each record would go;
republish sends with an idempotent producer (as an import does), a redrive in
transactions, so that a record lands once: a batch that cannot be committed is aborted
whole, and the result says up to where every record landed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException

from dashboard.kafka.client.clients import call, request_timeout
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.operate.importing import ImportRecord, bulk_producer
from dashboard.kafka.tail.export import ExportStats, Matched
from dashboard.kafka.topics import TOPIC_NAME_RE

# Where dead-letter writers put the topic a record came from: Spring Kafka's
# DeadLetterPublishingRecoverer, the common x- convention, Kafka Connect's error reporter.
DEAD_LETTER_HEADERS = ("kafka_dlt-original-topic", "x-original-topic", "__connect.errors.topic")
# Headers such writers add, dropped from a redriven record unless asked to keep them: a
# record that fails again gets fresh ones, not a second set.
DEAD_LETTER_PREFIXES = ("kafka_dlt-", "__connect.errors.")
PREVIEW_FIRST = 3  # records shown per destination
MAX_UNROUTABLE_SHOWN = 100
PREVIEW_SECONDS = 10.0  # a preview reads this long at most, then says how far it got
COMMIT_EVERY = 10_000  # records in one redrive transaction

Route = tuple[str | None, str | None]  # (destination, None) or (None, why it cannot go)
Router = Callable[[Any], Route]


def to_topic(topic: str) -> Router:
    """Every record to one topic (republish)."""
    answer: Route = (topic, None)
    return lambda msg: answer


def dead_letter_router(
    *, dlq: str, header: str | None, refusal: Callable[[str], str | None]
) -> Router:
    """Each record to the topic its dead-letter header names; refusal(topic) says why a
    destination cannot be written (absent, not allowed) or None."""
    names = (header,) if header else DEAD_LETTER_HEADERS
    wanted = set(names)
    missing: Route = (None, f"no {' or '.join(names)} header")
    decided: dict[bytes, Route] = {}

    def route(msg: Any) -> Route:
        found: dict[str, bytes | None] = {}
        for name, value in msg.headers() or ():
            if name in wanted:
                found[name] = value  # the last one: a record dead-lettered twice
        value = next((found[n] for n in names if found.get(n) is not None), None)
        if value is None:
            return missing
        hit = decided.get(value)
        if hit is None:
            topic = value.decode("utf-8", "replace").strip()
            if not TOPIC_NAME_RE.match(topic) or topic in {".", ".."}:
                hit = (None, f"the header names no topic: {topic[:100]!r}")
            elif topic == dlq:
                hit = (None, "the header names the dead-letter topic itself")
            elif (why := refusal(topic)) is not None:
                hit = (None, why)
            else:
                hit = (topic, None)
            if len(decided) < 10_000:
                decided[value] = hit
        return hit

    return route


@dataclass
class Unroutable:
    partition: int
    offset: int
    reason: str


@dataclass
class ResendPreview:
    """Where the matched records of a range would go, from reading it."""

    stats: ExportStats
    destinations: dict[str, int] = field(default_factory=dict)
    first: dict[str, list[Any]] = field(default_factory=dict)  # messages, a few a topic
    unroutable: int = 0
    unroutable_first: list[Unroutable] = field(default_factory=list)
    complete: bool = True  # False: the preview stopped at its time limit


def resend_preview(
    batches: Iterator[list[Matched]],
    route: Router,
    *,
    stats: ExportStats,
    seconds: float = PREVIEW_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> ResendPreview:
    """Read the range (at most `seconds`) and count the records per destination."""
    preview = ResendPreview(stats=stats)
    deadline = clock() + seconds
    try:
        for batch in batches:
            for msg, _seen, _decoded in batch:
                topic, why = route(msg)
                if topic is None:
                    preview.unroutable += 1
                    if len(preview.unroutable_first) < MAX_UNROUTABLE_SHOWN:
                        preview.unroutable_first.append(
                            Unroutable(msg.partition(), msg.offset(), why or "")
                        )
                    continue
                preview.destinations[topic] = preview.destinations.get(topic, 0) + 1
                shown = preview.first.setdefault(topic, [])
                if len(shown) < PREVIEW_FIRST:
                    shown.append(msg)
            if clock() > deadline:
                preview.complete = False
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return preview


def republish_records(
    batches: Iterable[list[Matched]], *, keep_partitions: bool
) -> Iterator[ImportRecord]:
    """The matched records as an import's records (named by their source position)."""
    for batch in batches:
        for msg, _seen, _decoded in batch:
            kind, ts = msg.timestamp()
            yield ImportRecord(
                msg.offset(),
                msg.partition() if keep_partitions else None,
                ts if kind != 0 else None,
                msg.key(),
                msg.value(),
                tuple(msg.headers() or ()),
                (msg.partition(), msg.offset()),
            )


@dataclass
class RedriveResult:
    """What a redrive committed, per destination, and what it could not route."""

    delivered: dict[str, int] = field(default_factory=dict)
    unroutable: int = 0
    unroutable_first: list[Unroutable] = field(default_factory=list)
    # The next offset of each partition of the dead-letter topic below which every record
    # was committed to its destination (or was unroutable): where a retry starts.
    through: dict[int, int] = field(default_factory=dict)
    aborted: int = 0  # records of a transaction that was aborted (none of them landed)
    error: str | None = None
    transactions: int = 0


def _kept_headers(
    headers: list[tuple[str, str | bytes | None]] | None, strip: bool, header: str | None
) -> list[tuple[str, str | bytes | None]] | None:
    if not headers or not strip:
        return headers or None
    dropped = {*DEAD_LETTER_HEADERS, header}
    kept = [
        (n, v) for n, v in headers if not n.startswith(DEAD_LETTER_PREFIXES) and n not in dropped
    ]
    return kept or None


def redrive_send(
    *,
    cluster: str,
    batches: Iterator[list[Matched]],
    route: Router,
    transactional_id: str,
    keep_timestamps: bool,
    strip_headers: bool,
    header: str | None,
    rate: int | None = None,
    commit_every: int = COMMIT_EVERY,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveResult:
    """Send each routable record to its topic, in transactions of commit_every records."""
    result = RedriveResult()
    timeout = max(request_timeout() * 3, 10.0)
    producer = bulk_producer(
        cluster=cluster, client_id="kafkaview-redrive", **{"transactional.id": transactional_id}
    )
    pending: dict[str, int] = {}
    pending_through: dict[int, int] = {}
    in_transaction = 0

    def commit() -> bool:
        nonlocal in_transaction
        try:
            producer.commit_transaction(timeout)
        except KafkaException as exc:
            result.error = f"a transaction could not be committed, none of it landed: {exc}"
            result.aborted += in_transaction
            try:
                producer.abort_transaction(timeout)
            except KafkaException as abort_error:
                result.error += f" (and aborting it failed: {abort_error})"
            return False
        result.transactions += 1
        for topic, n in pending.items():
            result.delivered[topic] = result.delivered.get(topic, 0) + n
        result.through.update(pending_through)
        pending.clear()
        pending_through.clear()
        in_transaction = 0
        return True

    started = clock()
    sent = 0
    try:
        call(lambda: producer.init_transactions(timeout), cluster=cluster)
        producer.begin_transaction()
        for batch in batches:
            for msg, _seen, _decoded in batch:
                partition, offset = msg.partition(), msg.offset()
                topic, why = route(msg)
                if topic is None:
                    result.unroutable += 1
                    if len(result.unroutable_first) < MAX_UNROUTABLE_SHOWN:
                        result.unroutable_first.append(Unroutable(partition, offset, why or ""))
                    pending_through[partition] = offset + 1
                    continue
                if rate is not None and sent >= rate * (clock() - started) + rate / 10:
                    sleep(max(sent / rate - (clock() - started), 0.0))
                kind, ts = msg.timestamp()
                while True:
                    try:
                        producer.produce(
                            topic,
                            value=msg.value(),
                            key=msg.key(),
                            headers=_kept_headers(msg.headers(), strip_headers, header),
                            timestamp=ts if keep_timestamps and kind != 0 else 0,
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
                sent += 1
                in_transaction += 1
                pending[topic] = pending.get(topic, 0) + 1
                pending_through[partition] = offset + 1
                if in_transaction >= commit_every:
                    if not commit():
                        return result
                    producer.begin_transaction()
                elif sent % 1000 == 0:
                    producer.poll(0)
        commit()
    except KafkaException as exc:
        result.error = f"the redrive stopped: {exc}"
        result.aborted += in_transaction
        # If the abort fails, the transaction times out on the broker: none of it lands.
        with contextlib.suppress(KafkaException):
            producer.abort_transaction(timeout)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
        requests_count(cluster=cluster, call="Produce", n=max(sent // 1000, 1))
    return result
