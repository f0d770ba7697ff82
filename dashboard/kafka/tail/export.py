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
import json
import time
from binascii import b2a_base64
from collections.abc import Callable, Generator, Iterator
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
CHUNK_BYTES = 1024 * 1024  # what one step of the download carries (a thread hop each)


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
_TS_NAMES = {kind: name.encode() for kind, name in TIMESTAMP_TYPES.items()}
_LOSSLESS = (
    b'{"partition":%d,"offset":%d,"timestamp":%s,"timestamp_type":"%s",'
    b'"key":%s,"value":%s,"headers":%s}'
)
_HEADER_NAMES: dict[str, bytes] = {}  # JSON-quoted header names (they repeat), bounded


def _header_name(name: str) -> bytes:
    quoted = _HEADER_NAMES.get(name)
    if quoted is None:
        quoted = orjson.dumps(name) if name.isascii() else json.dumps(name).encode()
        if len(_HEADER_NAMES) < 1000:
            _HEADER_NAMES[name] = quoted
    return quoted


def _lossless_headers(headers: list[tuple[str, bytes | None]]) -> bytes:
    parts = [
        b"[%s,null]" % _header_name(n)
        if v is None
        else b'[%s,"%s"]' % (_header_name(n), b2a_base64(v, newline=False))
        for n, v in headers
    ]
    return b"[" + b",".join(parts) + b"]"


def _lossless(msg: Any, seen: Any, decoded: Any) -> bytes:
    # Formatted as bytes, not through a dict and a JSON encoder (a third of the export's
    # time in its profile): base64 needs no escaping, header names are JSON-quoted.
    kind, ts = msg.timestamp()
    headers = msg.headers()
    key, value = msg.key(), msg.value()
    return _LOSSLESS % (
        msg.partition(),
        msg.offset(),
        b"null" if kind == 0 else b"%d" % ts,
        _TS_NAMES.get(kind) or timestamp_type_name(kind).encode(),
        b"null" if key is None else b'"%s"' % b2a_base64(key, newline=False),
        b"null" if value is None else b'"%s"' % b2a_base64(value, newline=False),
        _lossless_headers(headers) if headers else b"[]",
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


Matched = tuple[Any, Any, Any]  # (the message, as the reader sees it, as decoded)


def records_read(
    *,
    cluster: str,
    request: TailRequest,
    starts: tuple[PartitionStart, ...],
    masker: Masker | None,
    stats: ExportStats,
    decode: bool,
    purpose: str = "export",
) -> Generator[list[Matched], None, None]:
    """The records of a bounded search that match its filter, a batch at a time, read to
    each partition's end (set stats.finished: "end", "max_matches" or an error)."""
    ends: dict[int, int] = {
        s.partition: s.end for s in starts if s.end is not None and s.end > s.offset
    }
    stats.total = sum(e - s.offset for s in starts if (e := ends.get(s.partition)) is not None)
    if not ends:
        stats.finished = "end"
        return
    consumer = call(
        lambda: Consumer(
            consumer_config(
                cluster=cluster,
                purpose=purpose,
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
    decoder = decoder_for(cluster) if decode else None
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
                    return
                continue
            heard = time.monotonic()
            batch: list[Matched] = []
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
                batch.append((msg, seen, decoded))
                stats.matched += 1
                if max_matches is not None and stats.matched >= max_matches:
                    open_.clear()
                    stats.finished = "max_matches"
                    break
            del messages
            if batch:
                yield batch
        if stats.finished is None:
            stats.finished = "end"
    finally:
        consumer.close()


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
    chunk: list[bytes] = [",".join(CSV_COLUMNS).encode()] if fmt == "csv" else []
    size = 0
    batches = records_read(
        cluster=cluster,
        request=request,
        starts=starts,
        masker=masker,
        stats=stats,
        decode=decode and fmt != "lossless",
    )
    try:
        for batch in batches:
            for msg, seen, decoded in batch:
                line = writer(msg, seen, decoded)
                chunk.append(line)
                size += len(line) + 1
            if size >= CHUNK_BYTES:
                yield b"\n".join(chunk) + b"\n"
                chunk, size = [], 0
        if chunk:
            yield b"\n".join(chunk) + b"\n"
        elif stats.matched == 0:
            yield b""
    finally:
        batches.close()  # a closed download closes the consumer now, not at collection
