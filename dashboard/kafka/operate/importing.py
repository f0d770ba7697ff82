"""Import records from a file (an export in the lossless or NDJSON form) into a topic.

Parsed first, every line, before anything is sent: a file that does not parse is refused
with its line number and nothing reaches the topic. Then sent with an idempotent producer
(a record is written once per partition even when the producer retries), at a rate if one
is given, each delivery counted.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import orjson
from confluent_kafka import Producer

from dashboard.kafka.client.clients import call, client_config
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.partitioner import LIBRDKAFKA_PARTITIONER

IMPORT_FORMATS = ("lossless", "ndjson")
MAX_FAILURES = 100
_loads = orjson.loads


class ImportRecord(NamedTuple):
    """One record of the file: where it was, and its bytes (a tuple: a million are made)."""

    line: int
    partition: int | None
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    source: tuple[int, int] | None = None  # (partition, offset) of a record sent again


_a2b = binascii.a2b_base64


def _b64(value: Any) -> bytes | None:
    if value is None:
        return None
    if value.__class__ is not str:
        raise ValueError("must be base64 text or null")
    try:
        # binascii in strict mode: the same checks as b64decode(validate=True), in C.
        return _a2b(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


def _text(value: Any) -> bytes | None:
    """An NDJSON part: a string (UTF-8), {"base64": ...}, or null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return _b64(value["base64"])
    raise ValueError('must be text, {"base64": ...} or null')


def _whole(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if value.__class__ is not int or value < 0:  # bool is a subclass of int: refused too
        raise ValueError(f"{what} must be a whole number of at least 0 or null")
    return value


def _part(part: Callable[[Any], bytes | None], value: Any, what: str) -> bytes | None:
    try:
        return part(value)
    except ValueError as exc:
        raise ValueError(f"{what} {exc}") from None


def _headers(
    headers: Any, part: Callable[[Any], bytes | None]
) -> tuple[tuple[str, bytes | None], ...]:
    if not headers:
        return ()
    if headers.__class__ is not list:
        raise ValueError("headers must be a list of [name, value] pairs")
    out = []
    for pair in headers:
        if pair.__class__ is not list or len(pair) != 2 or pair[0].__class__ is not str:
            raise ValueError("headers must be a list of [name, value] pairs")
        out.append((pair[0], _part(part, pair[1], f"header {pair[0][:50]!r}")))
    return tuple(out)


def _careful(line: bytes, number: int, fmt: str) -> ImportRecord:
    """The line checked part by part: its record, or a ValueError that names the part."""
    part = _b64 if fmt == "lossless" else _text
    data = _loads(line)
    if data.__class__ is not dict:
        raise ValueError("a line must be a JSON object")
    get = data.get
    return ImportRecord(
        number,
        _whole(get("partition"), "partition"),
        _whole(get("timestamp"), "timestamp"),
        _part(part, get("key"), "key"),
        _part(part, get("value"), "value"),
        _headers(get("headers"), part),
    )


def _lossless_fast(line: bytes, number: int) -> ImportRecord:
    """A lossless line in one go; raises on anything _careful would refuse (it then says why)."""
    data = _loads(line)
    get = data.get  # AttributeError unless a dict (a list has no .get)
    partition, timestamp = get("partition"), get("timestamp")
    if partition is not None and (partition.__class__ is not int or partition < 0):
        raise ValueError
    if timestamp is not None and (timestamp.__class__ is not int or timestamp < 0):
        raise ValueError
    key, value, headers = get("key"), get("value"), get("headers")
    pairs: tuple[tuple[str, bytes | None], ...] = ()
    if headers:
        if headers.__class__ is not list:
            raise ValueError
        for pair in headers:
            if pair.__class__ is not list or len(pair) != 2 or pair[0].__class__ is not str:
                raise ValueError
        # a2b_base64 refuses anything but ASCII text here (TypeError for a number, a list).
        pairs = tuple([(n, None if v is None else _a2b(v, strict_mode=True)) for n, v in headers])
    return ImportRecord(
        number,
        partition,
        timestamp,
        None if key is None else _a2b(key, strict_mode=True),
        None if value is None else _a2b(value, strict_mode=True),
        pairs,
    )


def record_parse(line: bytes, number: int, fmt: str) -> ImportRecord:
    """One line of the file -> a record; InvalidRequest naming the line otherwise."""
    # Written for a million lines: a lossless line is read in one go, and only a line
    # that fails is read again part by part to say what is wrong with it (the import's
    # profile: 8.5 µs a line before, most of it in checks and messages never shown).
    if fmt == "lossless":
        try:
            return _lossless_fast(line, number)
        except (ValueError, TypeError, AttributeError, binascii.Error):
            pass  # orjson.JSONDecodeError is a ValueError
    try:
        return _careful(line, number, fmt)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise InvalidRequest(f"Line {number}: {str(exc)[:200]}. Nothing was sent.") from None


def records_parse(lines: Iterable[bytes], fmt: str) -> Iterator[ImportRecord]:
    """Every non-blank line of the file as a record, in order."""
    if fmt not in IMPORT_FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(IMPORT_FORMATS)}.")
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield record_parse(line, number, fmt)


@dataclass
class ImportSummary:
    """What a file holds: how many records, on which partitions, the first few."""

    records: int = 0
    partitions: dict[int, int] = field(default_factory=dict)
    first: list[ImportRecord] = field(default_factory=list)


def import_check(
    lines: Iterable[bytes], *, fmt: str, partitions: int, keep_partitions: bool
) -> ImportSummary:
    """Parse the whole file (the dry run, and the first pass of an import)."""
    summary = ImportSummary()
    for record in records_parse(lines, fmt):
        if keep_partitions:
            if record.partition is None:
                raise InvalidRequest(
                    f"Line {record.line}: no partition to keep. Nothing was sent; let the "
                    "partitioner choose instead."
                )
            if record.partition >= partitions:
                raise InvalidRequest(
                    f"Line {record.line}: partition {record.partition} does not exist (the "
                    f"topic has {partitions}). Nothing was sent; let the partitioner choose."
                )
            summary.partitions[record.partition] = summary.partitions.get(record.partition, 0) + 1
        summary.records += 1
        if len(summary.first) < 5:
            summary.first.append(record)
    if not summary.records:
        raise InvalidRequest("The file holds no records.")
    return summary


@dataclass
class ImportResult:
    """Deliveries of an import: counts, per partition, and the first failures by line."""

    delivered: int = 0
    failed: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)
    # (line, error) for a file; ((partition, offset), error) for records sent again.
    failures: list[tuple[int | tuple[int, int], str]] = field(default_factory=list)


def bulk_producer(*, cluster: str, client_id: str, **extra: Any) -> Producer:
    """An idempotent producer for many records (imports, republish, redrive)."""
    return call(
        lambda: Producer(
            client_config(
                cluster=cluster,
                **{
                    "client.id": client_id,
                    "enable.idempotence": True,
                    # The key's hash picks the partition, as the Java clients' default.
                    "partitioner": LIBRDKAFKA_PARTITIONER["murmur2"],
                    # Large batches: at the default 16 KiB the producer's queue filled and
                    # it sent at ~140k/s; at 1 MiB ~220k/s (measured, 200 B records).
                    "linger.ms": 50,
                    "batch.size": 1 << 20,
                    "queue.buffering.max.messages": 1_000_000,
                    "log_level": 3,
                    **extra,
                },
            )
        ),
        cluster=cluster,
    )


def import_send(
    *,
    cluster: str,
    topic: str,
    records: Iterable[ImportRecord],
    keep_partitions: bool,
    keep_timestamps: bool,
    rate: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportResult:
    """Send the records (idempotent producer, murmur2 for keys when partitions are not kept)."""
    result = ImportResult()

    def done(record: ImportRecord, err: Any, msg: Any) -> None:
        if err is None:
            result.delivered += 1
            p = msg.partition()
            result.per_partition[p] = result.per_partition.get(p, 0) + 1
        else:
            result.failed += 1
            if len(result.failures) < MAX_FAILURES:
                where = record.line if record.source is None else record.source
                result.failures.append((where, str(err.str() if hasattr(err, "str") else err)))

    producer = bulk_producer(cluster=cluster, client_id="kafkaview-import")
    started = clock()
    sent = 0
    for record in records:
        if rate is not None and sent >= rate * (clock() - started) + rate / 10:
            sleep(max(sent / rate - (clock() - started), 0.0))
        kwargs: dict[str, Any] = {
            "key": record.key,
            "value": record.value,
            "headers": list(record.headers) or None,
            "on_delivery": partial(done, record),  # cheaper than a closure
        }
        if keep_partitions and record.partition is not None:
            kwargs["partition"] = record.partition
        if keep_timestamps and record.timestamp is not None:
            kwargs["timestamp"] = record.timestamp
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: let deliveries drain it
        sent += 1
        if sent % 1000 == 0:
            producer.poll(0)
    requests_count(cluster=cluster, call="Produce", n=max(sent // 1000, 1))
    remaining = producer.flush(30)
    if remaining:
        result.failed += remaining
        result.failures.append((0, f"{remaining} record(s) not confirmed within 30 s"))
    return result


def failure_json(where: int | tuple[int, int], error: str) -> dict[str, Any]:
    """A failed delivery as the answer shows it: by line of the file, or by source position."""
    if isinstance(where, tuple):
        return {"partition": where[0], "offset": where[1], "error": error}
    return {"line": where, "error": error}
