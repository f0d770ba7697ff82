"""The tail's start parameters and filters (pure): what the websocket accepts and refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.render import searchable
from dashboard.kafka.tail.request import MAX_LAST, TailFilter, page_size, tail_request, timestamp_ms
from dashboard.kafka.tail.session import TailBudget


def test_defaults_start_at_the_end_of_every_partition_unfiltered() -> None:
    request = tail_request(topic="orders", params={})
    assert (request.start, request.partitions, request.filter.matcher()) == ("latest", None, None)


def test_offset_last_and_partitions_are_read() -> None:
    request = tail_request(
        topic="orders", params={"start": "offset", "offset": "42", "partitions": [2, 0, 2]}
    )
    assert (request.offset, request.partitions) == (42, (0, 2))
    assert tail_request(topic="t", params={"start": "last", "last": 5}).last == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "middle"}, "start must be one of"),
        ({"start": "offset", "offset": -1}, "offset must be at least 0"),
        ({"start": "offset", "offset": True}, "offset must be a whole number"),
        ({"start": "offset", "offset": "x"}, "not 'x'"),
        ({"start": "last", "last": MAX_LAST + 1}, "at most"),
        ({"partitions": "0,1"}, "partitions must be a list"),
        ({"filter": "abc"}, "filter must be an object"),
        ({"filter": {"text": "x", "on": "headers"}}, "filter.on must be one of"),
        ({"filter": {"text": "(", "regex": True}}, "not a valid regular expression"),
        ({"filter": {"text": "x" * 501}}, "at most 500 characters"),
        ({"start": "timestamp", "timestamp": "yesterday"}, "neither milliseconds"),
        ({"start": "timestamp", "timestamp": "2026-11-24T16:00:00"}, "needs a time zone"),
    ],
)
def test_bad_parameters_say_what_is_wrong(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        tail_request(topic="orders", params=params)


@pytest.mark.parametrize("topic", ["", "a b", "x" * 250, "bad/name"])
def test_invalid_topic_names_are_refused(topic: str) -> None:
    with pytest.raises(InvalidRequest):
        tail_request(topic=topic, params={})


def test_timestamps_in_milliseconds_or_iso_8601() -> None:
    assert timestamp_ms(1795536000000) == 1795536000000
    assert timestamp_ms("1795536000000") == 1795536000000
    assert timestamp_ms("2026-11-24T16:00:00Z") == timestamp_ms("2026-11-24T17:00:00+01:00")


@pytest.mark.parametrize(
    ("tail_filter", "key", "value", "expected"),
    [
        (TailFilter("login"), b"user-1", b"login ok", True),
        (TailFilter("login", on="key"), b"user-1", b"login ok", False),
        (TailFilter("user", on="key"), b"user-1", None, True),
        (TailFilter("LOGIN"), None, b"login", False),  # substring is case-sensitive
        (TailFilter("(?i)login", regex=True), None, b"LOGIN fail", True),
        (TailFilter(r"^user-\d$", regex=True, on="value"), b"user-1", b"x", False),
        (TailFilter("\ufffd"), None, b"\xff", True),  # undecodable bytes are searchable
    ],
)
def test_filters_match_key_value_or_either(
    tail_filter: TailFilter, key: bytes | None, value: bytes | None, expected: bool
) -> None:
    match = tail_filter.matcher()
    assert match is not None
    assert match(key, value, None) is expected
    # The tail's own form, over a consumed message, answers the same.
    on_message = tail_filter.message_matcher()
    assert on_message is not None
    assert on_message(_Message(key, value)) is expected


class _Message:
    """The accessors of a consumed confluent-kafka message that a filter reads."""

    def __init__(self, key: bytes | None, value: bytes | None) -> None:
        self._key, self._value = key, value

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return None


# Bytes that mix ASCII, multi-byte characters and their fragments: the cases where a
# match on raw bytes could differ from a match on the decoded text.
_pieces = st.sampled_from(
    [b"a", b"b", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xc3", b"\xe2\x82", b"\xf0",
     b"\x80", b"\xa9", b"\xff", b"\xed\xa0\x80"]
)  # fmt: skip
_bytes = st.lists(_pieces, max_size=12).map(b"".join)


@given(data=_bytes, needle=st.text(alphabet="ab\u00e9\u20ac\U0001f600", min_size=1, max_size=3))
def test_a_substring_filter_on_raw_bytes_matches_as_on_the_decoded_text(
    data: bytes, needle: str
) -> None:
    match = TailFilter(needle, on="value").matcher()
    assert match is not None
    assert match(None, data, None) is (needle in searchable(data))


def test_page_mode_limit_is_read_and_bounded() -> None:
    assert tail_request(topic="t", params={"limit": "500"}).limit == 500
    assert tail_request(topic="t", params={}).limit is None
    with pytest.raises(InvalidRequest, match="at most 100,000"):
        tail_request(topic="t", params={"limit": 100_001})
    with pytest.raises(InvalidRequest, match="limit must be at least 1"):
        tail_request(topic="t", params={"limit": 0})
    assert page_size(7, "count") == 7


def test_the_process_budget_counts_every_tail() -> None:
    budget = TailBudget(1000)
    budget.add(600)
    assert not budget.exhausted()
    budget.add(400)
    assert budget.exhausted()
    budget.add(-400)  # a reader took records
    assert not budget.exhausted() and budget.used == 600
