"""Message bytes -> something safe to show: JSON, text or hex, capped in size (pure logic)."""

from __future__ import annotations

import json

import orjson

# What one key, value or header value may occupy in a frame; the rest is cut.
DEFAULT_CAP = 16 * 1024


# confluent_kafka's timestamp kinds, named as Kafka's TimestampType (CREATE_TIME ...), one
# spelling for the tail and the group page alike.
TIMESTAMP_TYPES = {0: "none", 1: "create_time", 2: "log_append_time"}


def timestamp_type_name(kind: int) -> str:
    """'create_time' (set by the producer), 'log_append_time' (by the broker) or 'none'."""
    return TIMESTAMP_TYPES.get(kind, "none")


def printable_text(text: str) -> bool:
    """Whether decoded text is shown as text (not hex): no control characters but whitespace."""
    return _printable(text)


def _printable(text: str) -> bool:
    # Control characters other than whitespace mean "this is binary that happens to decode".
    # isprintable() is the fast path; it only rejects whitespace controls, so check those.
    return text.isprintable() or all(ch.isprintable() or ch in "\t\n\r" for ch in text)


def render_dict(data: bytes | None, *, cap: int = DEFAULT_CAP) -> dict[str, object]:
    """Pretty JSON when it parses, text when printable UTF-8, hex otherwise; capped (as a dict).

    The tail's hot path uses this form directly: building dicts costs a fraction of
    building frozen dataclasses and walking them again for JSON.
    """
    if data is None:
        return {"kind": "null", "text": "", "size": 0, "truncated": False}
    size = len(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and _printable(text):
        first = text.lstrip()[:1]
        if first in {"{", "["} and size <= 1024 * 1024:
            pretty = pretty_json(data)
            if pretty is not None:
                return {
                    "kind": "json",
                    "text": pretty[:cap],
                    "size": size,
                    "truncated": len(pretty) > cap,
                }
        return {"kind": "text", "text": text[:cap], "size": size, "truncated": len(text) > cap}
    shown = data[: cap // 3]  # "ab " per byte
    return {"kind": "hex", "text": shown.hex(" "), "size": size, "truncated": size > len(shown)}


def pretty_json(data: bytes) -> str | None:
    """Indented JSON text of a JSON document, None when it is not one (or too deep to walk)."""
    try:
        # orjson: the same indented text as json.dumps(indent=2) at a fraction of the
        # cost (decoded Schema Registry records all come this way); the standard
        # library for what orjson refuses (integers past 64 bits, NaN, nesting past 1024).
        return orjson.dumps(orjson.loads(data), option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError):
        pass
    try:
        return json.dumps(json.loads(data), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        # A record nested 50,000 deep: shown as (capped) text, never a dead tail.
        return None


def searchable(data: bytes | None) -> str:
    """The text a filter looks in: UTF-8 with undecodable bytes replaced."""
    return "" if data is None else data.decode("utf-8", errors="replace")
