"""What a tail was asked for: start position, partitions and filter, checked (pure logic)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.linear import PatternError, linear_compile
from dashboard.kafka.numbers import whole_number
from dashboard.kafka.render import searchable
from dashboard.kafka.topics import topic_name_check

START_MODES = ("latest", "earliest", "offset", "timestamp", "last")
FILTER_ON = ("any", "key", "value", "header")
END_MODES = ("now", "offset", "timestamp")
MAX_LAST = 10_000
MAX_FILTER = 500
# Page mode: records sent before the reader asks for more ({"type": "more"}).
MAX_PAGE = 100_000


@dataclass(frozen=True)
class TailFilter:
    """A server-side filter on key, value or either: substring or regular expression."""

    text: str = ""
    regex: bool = False
    on: str = "any"

    def matcher(self) -> Callable[[bytes | None, bytes | None, Any], bool] | None:
        """A predicate over (key, value, headers), or None when nothing is filtered."""
        if not self.text:
            return None
        if self.regex:
            # RE2: linear in the text whatever the pattern, so no filter can hold the
            # poll thread (and with it the web process's GIL) on one record.
            pattern = linear_compile(self.text)

            def found(s: str) -> bool:
                return pattern.search(s) is not None
        else:
            needle = self.text

            def found(s: str) -> bool:
                return needle in s

            if self.on != "header" and "\ufffd" not in needle:
                return _bytes_matcher(needle.encode(), self.on)

        on = self.on

        def match(key: bytes | None, value: bytes | None, headers: Any = None) -> bool:
            if on == "header":
                # A header matches by its name or its value ("name: value" as shown).
                return any(found(f"{name}: {searchable(raw)}") for name, raw in (headers or ()))
            if on in ("any", "key") and found(searchable(key)):
                return True
            return on in ("any", "value") and found(searchable(value))

        return match

    def message_matcher(self) -> Callable[[Any], bool] | None:
        """matcher() over a consumed message: asks it only for the parts the filter reads."""
        match = self.matcher()
        if match is None:
            return None
        # Each accessor of a confluent-kafka message copies bytes: a search calls it
        # half a million times, so skip the ones the filter would not look at, and
        # inline the raw-bytes substring test (one call a message, not two).
        if not self.regex and self.on != "header" and "\ufffd" not in self.text:
            needle = self.text.encode()  # see _bytes_matcher for why bytes suffice
            if self.on == "value":
                return lambda msg: (v := msg.value()) is not None and needle in v
            if self.on == "key":
                return lambda msg: (k := msg.key()) is not None and needle in k
            return lambda msg: (
                ((k := msg.key()) is not None and needle in k)
                or ((v := msg.value()) is not None and needle in v)
            )
        if self.on == "header":
            return lambda msg: match(None, None, msg.headers())
        if self.on == "value":
            return lambda msg: match(None, msg.value(), None)
        if self.on == "key":
            return lambda msg: match(msg.key(), None, None)
        return lambda msg: match(msg.key(), msg.value(), None)


def _bytes_matcher(needle: bytes, on: str) -> Callable[[bytes | None, bytes | None, Any], bool]:
    """A substring filter on the raw bytes: the same answer as on the decoded text, no decode.

    UTF-8 is self-synchronising and the decoder replaces only the bytes it cannot read,
    so a valid UTF-8 needle occurs in the bytes exactly when it occurs in their text
    (a needle holding U+FFFD, the replacement character, takes the decoding path).
    """
    key_too, value_too = on in ("any", "key"), on in ("any", "value")

    def match(key: bytes | None, value: bytes | None, headers: Any = None) -> bool:
        if key_too and key is not None and needle in key:
            return True
        return value_too and value is not None and needle in value

    return match


@dataclass(frozen=True)
class TailRequest:
    """Where a tail starts, which partitions it reads, and what it keeps."""

    topic: str
    start: str = "latest"
    offset: int | None = None
    timestamp_ms: int | None = None
    last: int | None = None
    partitions: tuple[int, ...] | None = None
    filter: TailFilter = field(default_factory=TailFilter)
    limit: int | None = None  # page mode: send this many, then wait for "more"
    # A search: stop at an end (exclusive) instead of following the log; "now" is the
    # log end when the search began, so producers writing on cannot make it endless.
    end: str | None = None  # None (a live tail), "now", "offset" or "timestamp"
    end_offset: int | None = None
    end_timestamp_ms: int | None = None
    max_matches: int | None = None


def _int(value: Any, name: str, *, minimum: int = 0) -> int:
    return whole_number(value, name, minimum=minimum)


def page_size(value: Any, name: str) -> int:
    """A number of records for page mode: 1 to MAX_PAGE."""
    number = _int(value, name, minimum=1)
    if number > MAX_PAGE:
        raise InvalidRequest(f"{name} may be at most {MAX_PAGE:,} records.")
    return number


def timestamp_ms(value: Any) -> int:
    """Milliseconds since the epoch from a number or an ISO 8601 date-time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest("timestamp must be a finite number of milliseconds.")
        return whole_number(int(value), "timestamp")
    text = str(value).strip()[:100]
    if text.isascii() and text.lstrip("-").isdigit():
        return whole_number(text, "timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"timestamp {text[:40]!r} is neither milliseconds since the epoch nor an ISO 8601 "
            "date-time such as 2026-11-24T16:00:00Z."
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest("timestamp needs a time zone, e.g. 2026-11-24T16:00:00Z.")
    return int(parsed.timestamp() * 1000)


def _end(raw: Any) -> tuple[str | None, int | None, int | None]:
    """(end mode, end offset, end time) from "now", {"offset": N} or {"timestamp": t}."""
    if raw in (None, "", "none"):
        return None, None, None
    if raw == "now":
        return "now", None, None
    if isinstance(raw, Mapping) and len(raw) == 1:
        if "offset" in raw:
            return "offset", _int(raw["offset"], "end offset"), None
        if "timestamp" in raw:
            return "timestamp", None, timestamp_ms(raw["timestamp"])
    raise InvalidRequest(
        'end must be "now", {"offset": N} or {"timestamp": ms or ISO 8601}, or omitted.'
    )


def tail_request(*, topic: str, params: Mapping[str, Any]) -> TailRequest:
    """Validate a client's start parameters; InvalidRequest with a clear message otherwise."""
    topic_name_check(topic)
    start = str(params.get("start") or "latest")
    if start not in START_MODES:
        raise InvalidRequest(f"start must be one of {', '.join(START_MODES)}.")
    offset = timestamp = last = None
    if start == "offset":
        offset = _int(params.get("offset"), "offset")
    elif start == "timestamp":
        timestamp = timestamp_ms(params.get("timestamp"))
    elif start == "last":
        last = _int(params.get("last", 100), "last", minimum=1)
        if last > MAX_LAST:
            raise InvalidRequest(f"last may be at most {MAX_LAST} messages per partition.")
    raw_parts = params.get("partitions")
    partitions = None
    if raw_parts not in (None, "", [], "all"):
        if not isinstance(raw_parts, list):
            raise InvalidRequest("partitions must be a list of partition numbers, or omitted.")
        partitions = tuple(sorted({_int(p, "partition") for p in raw_parts}))
    raw_filter = params.get("filter") or {}
    if not isinstance(raw_filter, Mapping):
        raise InvalidRequest("filter must be an object with text, regex and on.")
    text = str(raw_filter.get("text") or "")
    if len(text) > MAX_FILTER:
        raise InvalidRequest(f"filter text may be at most {MAX_FILTER} characters.")
    on = str(raw_filter.get("on") or "any")
    if on not in FILTER_ON:
        raise InvalidRequest(f"filter.on must be one of {', '.join(FILTER_ON)}.")
    tail_filter = TailFilter(text=text, regex=bool(raw_filter.get("regex")), on=on)
    try:
        tail_filter.matcher()
    except PatternError as exc:
        raise InvalidRequest(f"filter is not a valid regular expression: {exc}.") from None
    limit = None
    if params.get("limit") not in (None, ""):
        limit = page_size(params.get("limit"), "limit")
    end, end_offset, end_timestamp = _end(params.get("end"))
    max_matches = None
    if params.get("max_matches") not in (None, ""):
        max_matches = page_size(params.get("max_matches"), "max_matches")
    return TailRequest(
        limit=limit,
        end=end,
        end_offset=end_offset,
        end_timestamp_ms=end_timestamp,
        max_matches=max_matches,
        topic=topic,
        start=start,
        offset=offset,
        timestamp_ms=timestamp,
        last=last,
        partitions=partitions,
        filter=tail_filter,
    )
