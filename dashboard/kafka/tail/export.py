"""Export a bounded search as lines of a file, read as the download is written (never held).

One consumer, assigned at the search's starts, read up to each partition's end; each record
goes through the same decoder, masks and filter as the tail's, then into one of three forms:

- `lossless`: key, value and header values in base64, so an import is byte-identical;
- `ndjson`: text where the bytes are UTF-8 (a registry record as its decoded JSON),
  `{"base64": ...}` where they are not;
- `csv`: the same columns as text.

A generator: the web server pulls a chunk when it can send one, so a slow reader slows the
read, and a closed download closes the consumer (the generator is closed).
"""

from __future__ import annotations

import base64
import csv
import io
import time
from binascii import b2a_base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

from dashboard.kafka.client.clients import call, consumer_config, request_timeout
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.masking import MaskedMessage, Masker
from dashboard.kafka.registry.client import DecodedMessage, decoder_for
from dashboard.kafka.render import printable_text, timestamp_type_name
from dashboard.kafka.tail.request import TailRequest
from dashboard.kafka.tail.session import SEARCH_PREFETCH, PartitionStart, tail_plan

FORMATS = ("lossless", "ndjson", "csv")
CONTENT_TYPES = {
    "lossless": "application/x-ndjson",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}
CSV_COLUMNS = (
    "partition",
    "offset",
    "timestamp",
    "timestamp_type",
    "key",
    "value",
    "headers",
    "key_schema_id",
    "value_schema_id",
)
CHUNK_BYTES = 256 * 1024  # what one step of the download carries


@dataclass
class ExportStats:
    """What an export read and wrote, and why it stopped."""

    scanned: int = 0
    matched: int = 0
    total: int = 0  # records in the range when it began
    finished: str | None = None  # "end", "max_matches", "error: ..." or None (cut off)
    started: float = field(default_factory=time.monotonic)


def _b64(data: bytes | None) -> str | None:
    # binascii directly: base64.b64encode is a Python wrapper around it (the export's
    # profile spent a fifth of its time in it and its checks).
    return None if data is None else b2a_base64(data, newline=False).decode("ascii")


def _text(data: bytes | None) -> Any:
    """UTF-8 text as a string, anything else as {"base64": ...}; None stays None."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}
    return text if printable_text(text) or not text else {"base64": _b64(data)}


def _schema_id(decoded: Any, part: str) -> Any:
    schemas = getattr(decoded, "schemas", None) or {}
    info = schemas.get(part)
    return info.get("id") if isinstance(info, dict) else None


TIMESTAMP_TYPES = {kind: timestamp_type_name(kind) for kind in (0, 1, 2)}


def _lossless(msg: Any, seen: Any, decoded: Any) -> bytes:
    kind, ts = msg.timestamp()
    headers = msg.headers()
    key, value = msg.key(), msg.value()
    return orjson.dumps(
        {
            "partition": msg.partition(),
            "offset": msg.offset(),
            "timestamp": ts if kind != 0 else None,
            "timestamp_type": TIMESTAMP_TYPES.get(kind) or timestamp_type_name(kind),
            "key": None if key is None else b2a_base64(key, newline=False).decode("ascii"),
            "value": None if value is None else b2a_base64(value, newline=False).decode("ascii"),
            "headers": [[str(n), _b64(v)] for n, v in headers] if headers else [],
        }
    )


def _ndjson_record(msg: Any, seen: Any, decoded: Any) -> dict[str, Any]:
    kind, ts = msg.timestamp()
    headers = seen.headers() or []
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts if kind != 0 else None,
        "timestamp_type": timestamp_type_name(kind),
        "key": _text(seen.key()),
        "value": _text(seen.value()),
        "headers": [[str(n), _text(v)] for n, v in headers],
        "key_schema_id": _schema_id(decoded, "key"),
        "value_schema_id": _schema_id(decoded, "value"),
    }


def _ndjson(msg: Any, seen: Any, decoded: Any) -> bytes:
    try:
        return orjson.dumps(_ndjson_record(msg, seen, decoded))
    except orjson.JSONEncodeError:  # a lone surrogate in a header name
        import json

        return json.dumps(_ndjson_record(msg, seen, decoded)).encode()


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such a cell is written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "base64:" + str(value["base64"])
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(msg: Any, seen: Any, decoded: Any) -> bytes:
    record = _ndjson_record(msg, seen, decoded)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [
            record["partition"],
            record["offset"],
            "" if record["timestamp"] is None else record["timestamp"],
            record["timestamp_type"],
            _cell(record["key"]),
            _cell(record["value"]),
            _cell(record["headers"]) if record["headers"] else "",
            "" if record["key_schema_id"] is None else record["key_schema_id"],
            "" if record["value_schema_id"] is None else record["value_schema_id"],
        ]
    )
    return out.getvalue().encode("utf-8", "surrogatepass")[:-1]


WRITERS: dict[str, Callable[[Any, Any, Any], bytes]] = {
    "lossless": _lossless,
    "ndjson": _ndjson,
    "csv": _csv,
}


def export_plan(
    *, cluster: str, request: TailRequest, fmt: str, masker: Masker | None
) -> tuple[PartitionStart, ...]:
    """Check the export and resolve its range; InvalidRequest for what cannot be exported."""
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}.")
    if request.end is None:
        raise InvalidRequest('An export needs an end: "now", an offset or a time.')
    if fmt == "lossless" and masker is not None:
        # Lossless means the raw bytes, and masks must hold in every format: fail closed.
        raise InvalidRequest(
            "This topic is masked for you: a lossless export would hold the raw values. "
            "Export it as ndjson or csv (masked)."
        )
    return tail_plan(cluster=cluster, request=request)


def export_lines(
    *,
    cluster: str,
    request: TailRequest,
    starts: tuple[PartitionStart, ...],
    fmt: str,
    masker: Masker | None,
    stats: ExportStats,
    decode: bool = True,
) -> Iterator[bytes]:
    """The export's bytes, a chunk at a time (CSV with its header line); decode=False
    writes registry-framed records as their bytes instead of their decoded JSON."""
    writer = WRITERS[fmt]
    ends: dict[int, int] = {
        s.partition: s.end for s in starts if s.end is not None and s.end > s.offset
    }
    stats.total = sum(e - s.offset for s in starts if (e := ends.get(s.partition)) is not None)
    chunk: list[bytes] = []
    size = 0
    if fmt == "csv":
        chunk.append(",".join(CSV_COLUMNS).encode())
    if not ends:
        stats.finished = "end"
        yield b"\n".join(chunk) + b"\n" if chunk else b""
        return
    consumer = call(
        lambda: Consumer(
            consumer_config(
                cluster=cluster,
                purpose="export",
                **{
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": True,
                    "fetch.wait.max.ms": 100,
                    **SEARCH_PREFETCH,
                    "fetch.queue.backoff.ms": 5,
                },
            )
        ),
        cluster=cluster,
    )
    decoder = decoder_for(cluster) if decode and fmt != "lossless" else None
    match = request.filter.message_matcher()
    max_matches = request.max_matches
    open_ = set(ends)
    try:
        consumer.assign(
            [
                TopicPartition(request.topic, s.partition, s.offset)
                for s in starts
                if s.partition in ends
            ]
        )
        heard = time.monotonic()
        while open_:
            messages = consumer.consume(num_messages=1000, timeout=0.2)
            if not messages:
                if time.monotonic() - heard > 3 * request_timeout():
                    stats.finished = "error: the cluster stopped answering"
                    break
                continue
            heard = time.monotonic()
            for msg in messages:
                partition, offset = msg.partition(), msg.offset()
                if partition not in open_ or offset is None:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF and offset >= ends[partition]:
                        open_.discard(partition)
                    continue
                if offset >= ends[partition]:
                    open_.discard(partition)
                    continue
                if offset + 1 >= ends[partition]:
                    open_.discard(partition)
                stats.scanned += 1
                decoded = msg if decoder is None else DecodedMessage(msg, decoder)
                seen = decoded if masker is None else MaskedMessage(decoded, masker)
                if match is not None and not match(seen):
                    continue
                line = writer(msg, seen, decoded)
                chunk.append(line)
                size += len(line) + 1
                stats.matched += 1
                if max_matches is not None and stats.matched >= max_matches:
                    open_.clear()
                    stats.finished = "max_matches"
                    break
            del messages
            if size >= CHUNK_BYTES:
                yield b"\n".join(chunk) + b"\n"
                chunk, size = [], 0
        if stats.finished is None:
            stats.finished = "end"
        if chunk:
            yield b"\n".join(chunk) + b"\n"
    finally:
        consumer.close()
