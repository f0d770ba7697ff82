"""What a tail was asked for: start position, partitions and filter, checked (pure logic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.linear import PatternError
from dashboard.kafka.numbers import timestamp_ms, whole_number
from dashboard.kafka.tail.filters import FILTER_ON, TailFilter
from dashboard.kafka.topics import topic_name_check

START_MODES = ("latest", "earliest", "offset", "timestamp", "last")
MAX_LAST = 10_000
MAX_FILTER = 500
# Page mode: records sent before the reader asks for more ({"type": "more"}).
MAX_PAGE = 100_000


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
