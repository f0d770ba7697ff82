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
from typing import Any, NamedTuple

import orjson
from confluent_kafka import Producer

from dashboard.kafka.client.clients import call, client_config
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.partitioner import LIBRDKAFKA_PARTITIONER

IMPORT_FORMATS = ("lossless", "ndjson")
MAX_FAILURES = 100


class ImportRecord(NamedTuple):
    """One record of the file: where it was, and its bytes (a tuple: a million are made)."""

    line: int
    partition: int | None
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def _b64(value: Any, what: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be base64 text or null")
    try:
        # binascii in strict mode: the same checks as b64decode(validate=True), in C.
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def _text(value: Any, what: str) -> bytes | None:
    """An NDJSON part: a string (UTF-8), {"base64": ...}, or null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, dict) and set(value) == {"base64"}:
        return _b64(value["base64"], what)
    raise ValueError(f'{what} must be text, {{"base64": ...}} or null')


def _whole(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0 or null")
    return value


def record_parse(line: bytes, number: int, fmt: str) -> ImportRecord:
    """One line of the file -> a record; InvalidRequest naming the line otherwise."""
    part = _b64 if fmt == "lossless" else _text
    try:
        data = orjson.loads(line)
        if not isinstance(data, dict):
            raise ValueError("a line must be a JSON object")
        headers = data.get("headers") or []
        if not isinstance(headers, list) or not all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) for h in headers
        ):
            raise ValueError("headers must be a list of [name, value] pairs")
        return ImportRecord(
            line=number,
            partition=_whole(data.get("partition"), "partition"),
            timestamp=_whole(data.get("timestamp"), "timestamp"),
            key=part(data.get("key"), "key"),
            value=part(data.get("value"), "value"),
            headers=tuple((name, part(value, f"header {name[:50]!r}")) for name, value in headers),
        )
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
    failures: list[tuple[int, str]] = field(default_factory=list)


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

    def report(line: int) -> Callable[[Any, Any], None]:
        def done(err: Any, msg: Any) -> None:
            if err is None:
                result.delivered += 1
                p = msg.partition()
                result.per_partition[p] = result.per_partition.get(p, 0) + 1
            else:
                result.failed += 1
                if len(result.failures) < MAX_FAILURES:
                    result.failures.append((line, str(err.str() if hasattr(err, "str") else err)))

        return done

    producer = call(
        lambda: Producer(
            client_config(
                cluster=cluster,
                **{
                    "client.id": "kafkaview-import",
                    "enable.idempotence": True,
                    "partitioner": LIBRDKAFKA_PARTITIONER["murmur2"],
                    "linger.ms": 20,
                    "log_level": 3,
                },
            )
        ),
        cluster=cluster,
    )
    started = clock()
    sent = 0
    for record in records:
        if rate is not None and sent >= rate * (clock() - started) + rate / 10:
            sleep(max(sent / rate - (clock() - started), 0.0))
        kwargs: dict[str, Any] = {
            "key": record.key,
            "value": record.value,
            "headers": list(record.headers) or None,
            "on_delivery": report(record.line),
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
