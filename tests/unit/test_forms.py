"""Produce and reset input (pure): forms and parsers refuse bad input with a clear message."""

from __future__ import annotations

import base64

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict

from dashboard.kafka.errors import InvalidRequest
from dashboard.writes.forms import (
    MAX_FILE_BYTES,
    BulkProduceForm,
    ProduceForm,
    bulk_line,
    headers_parse,
    reset_request,
    value_encode,
)


def test_headers_may_repeat_and_be_empty() -> None:
    assert headers_parse("trace: a\n\ntrace: b\nempty:") == (
        ("trace", b"a"),
        ("trace", b"b"),
        ("empty", b""),
    )


def test_a_header_line_without_a_colon_names_its_line() -> None:
    with pytest.raises(forms.ValidationError, match="Header line 2"):
        headers_parse("a: 1\nno colon here")


def test_values_as_text_json_or_base64() -> None:
    assert value_encode("héllo", "text") == "héllo".encode()
    assert value_encode('{"a": 1}', "json") == b'{"a": 1}'
    assert value_encode(base64.b64encode(b"\x00\xff").decode(), "base64") == b"\x00\xff"
    with pytest.raises(forms.ValidationError, match="not valid JSON"):
        value_encode("{oops", "json")
    with pytest.raises(forms.ValidationError, match="not valid base64"):
        value_encode("***", "base64")


def test_produce_form_builds_the_message() -> None:
    form = ProduceForm(
        {
            "key": "user-1",
            "value": "v",
            "encoding": "text",
            "headers": "h: 1",
            "partition": "2",
            "partitioner": "murmur2",
        },
        partitions=3,
    )
    assert form.is_valid(), form.errors
    message = form.message()
    assert (message.key, message.value, message.headers, message.partition) == (
        b"user-1",
        b"v",
        (("h", b"1"),),
        2,
    )


def test_produce_form_refuses_a_partition_the_topic_lacks_and_an_empty_key_means_none() -> None:
    form = ProduceForm(
        {"key": "", "value": "v", "encoding": "text", "partition": "3", "partitioner": "murmur2"},
        partitions=3,
    )
    assert not form.is_valid()
    assert "choose automatic or 0-2" in form.errors["partition"][0]
    auto = ProduceForm(
        {"key": "", "value": "v", "encoding": "text", "partition": "auto", "partitioner": "crc32"},
        partitions=3,
    )
    assert auto.is_valid(), auto.errors
    assert auto.message().key is None and auto.message().partition is None


def test_bulk_lines_in_three_forms() -> None:
    assert bulk_line(1, "k\tv").key == b"k"
    assert bulk_line(2, "bare").key is None
    obj = bulk_line(3, '{"key": "k", "value": {"n": 1}, "headers": [["a", "b"]], "partition": 1}')
    assert (obj.value, obj.headers, obj.partition, obj.line) == (b'{"n": 1}', (("a", b"b"),), 1, 3)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{bad json", "line 7: not valid JSON"),
        ('{"key": 1}', "line 7: key must be a string"),
        ('{"partition": true}', "line 7: partition must be a whole number"),
        ('{"colour": "red"}', "line 7: unknown field 'colour'"),
        ('{"headers": 5}', "line 7: headers must be"),
    ],
)
def test_bad_bulk_lines_name_the_line(line: str, message: str) -> None:
    with pytest.raises(forms.ValidationError, match=message):
        bulk_line(7, line)


def test_bulk_form_sends_nothing_when_a_line_is_bad() -> None:
    form = BulkProduceForm({"lines": "ok\n{bad", "partitioner": "murmur2"})
    assert not form.is_valid()
    assert form.non_field_errors()[0] == "Nothing was sent."


def test_bulk_form_refuses_a_file_that_is_not_utf8_or_too_large() -> None:
    binary = SimpleUploadedFile("m.txt", b"\xff\xfe\x00")
    form = BulkProduceForm({"partitioner": "murmur2"}, MultiValueDict({"file": [binary]}))
    assert not form.is_valid()
    assert "not UTF-8" in form.non_field_errors()[0]
    big = SimpleUploadedFile("m.txt", b"x" * (MAX_FILE_BYTES + 1))
    form = BulkProduceForm({"partitioner": "murmur2"}, MultiValueDict({"file": [big]}))
    assert not form.is_valid()
    assert "at most" in form.non_field_errors()[0]


def test_reset_request_from_a_form_or_json() -> None:
    request = reset_request({"strategy": "shift", "shift": "-5", "partitions": "t:0 t:2, t:0"})
    assert (request.shift, request.partitions) == (-5, (("t", 0), ("t", 2)))
    explicit = reset_request({"strategy": "offsets", "offsets": '[["t", 0, 3]]'})
    assert explicit.offsets == (("t", 0, 3),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"strategy": "sideways"}, "strategy must be one of"),
        ({"strategy": "offset", "offset": "ten"}, "offset must be a whole number"),
        ({"strategy": "shift", "shift": True}, "shift must be a whole number"),
        ({"strategy": "earliest", "partitions": "t-0"}, "write partitions as topic:number"),
        ({"strategy": "offsets", "offsets": "[[1, 2]]"}, r"offsets must be \[\[topic"),
        ({"strategy": "offsets", "offsets": "nope"}, "offsets must be JSON"),
    ],
)
def test_bad_reset_requests_say_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        reset_request(data)


@pytest.mark.parametrize("partition", ["²", "\uff11", "-1", "1.0"])
def test_a_partition_that_only_looks_like_a_number_is_a_form_error(partition: str) -> None:
    # "²" and the full-width one (U+FF11) are digits to str.isdigit(); int() refuses "²".
    form = ProduceForm(
        {
            "key": "",
            "value": "v",
            "encoding": "text",
            "partition": partition,
            "partitioner": "murmur2",
        },
        partitions=3,
    )
    assert not form.is_valid()
    assert "partition" in form.errors
