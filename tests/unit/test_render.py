"""Message bytes as shown: JSON, text or hex, capped; timestamp types (pure)."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
)

from dashboard.kafka.render import render_dict, searchable, timestamp_type_name


def test_null_is_its_own_kind() -> None:
    assert render_dict(None) == {"kind": "null", "text": "", "size": 0, "truncated": False}


def test_json_is_pretty_printed() -> None:
    shown = render_dict(b'{"a":1,"b":[1,2]}')
    assert shown["kind"] == "json"
    assert json.loads(str(shown["text"])) == {"a": 1, "b": [1, 2]}
    assert "\n" in str(shown["text"])


def test_text_that_looks_like_json_but_is_not_stays_text() -> None:
    assert render_dict(b"{not json")["kind"] == "text"


def test_printable_utf8_is_text_and_keeps_whitespace() -> None:
    text = "ключ\tvalue\nline ☃"
    shown = render_dict(text.encode())
    assert shown == {"kind": "text", "text": text, "size": 23, "truncated": False}  # UTF-8 bytes


@pytest.mark.parametrize("data", [b"\x00\x01\x02", b"\xff\xfe", b"ok\x07bell"])
def test_binary_and_control_characters_are_hex(data: bytes) -> None:
    shown = render_dict(data)
    assert shown["kind"] == "hex"
    assert shown["text"] == data.hex(" ")


def test_a_script_value_is_text_not_markup() -> None:
    # The page puts it in textContent; here it must stay the same characters.
    shown = render_dict(b"<script>alert(1)</script>")
    assert shown["kind"] == "text"
    assert shown["text"] == "<script>alert(1)</script>"


def test_cap_cuts_and_says_so_with_the_full_size() -> None:
    shown = render_dict(b"x" * 100, cap=10)
    assert shown == {"kind": "text", "text": "x" * 10, "size": 100, "truncated": True}
    hexed = render_dict(b"\x00" * 100, cap=30)
    assert hexed["kind"] == "hex" and hexed["truncated"] is True and hexed["size"] == 100
    assert len(str(hexed["text"])) <= 30


def test_searchable_replaces_undecodable_bytes() -> None:
    assert searchable(None) == ""
    assert searchable(b"a\xffb") == "a\ufffdb"


def test_timestamp_types_have_one_spelling() -> None:
    assert timestamp_type_name(TIMESTAMP_CREATE_TIME) == "create_time"
    assert timestamp_type_name(TIMESTAMP_LOG_APPEND_TIME) == "log_append_time"
    assert timestamp_type_name(TIMESTAMP_NOT_AVAILABLE) == "none"
    assert timestamp_type_name(99) == "none"
