"""The import's line parser: the fast lossless path accepts exactly what the careful one does."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.operate.importing import _careful, record_parse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**40) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
b64 = st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())
part = st.none() | b64 | json_values
header = st.lists(st.text(max_size=5) | json_values, min_size=0, max_size=3) | json_values
line_objects = (
    st.fixed_dictionaries(
        {},
        optional={
            "partition": st.none() | st.integers(-2, 5) | json_values,
            "timestamp": st.none() | st.integers(-2, 2**41) | json_values,
            "key": part,
            "value": part,
            "headers": st.none()
            | st.lists(st.tuples(st.text(max_size=5), part).map(list))
            | header,
        },
    )
    | json_values
)


def _outcome(fn, line: bytes):
    try:
        return ("ok", fn(line))
    except (InvalidRequest, ValueError):
        return ("refused", None)


@settings(max_examples=400, deadline=None)
@given(line_objects)
def test_the_fast_lossless_path_agrees_with_the_careful_one(data) -> None:
    line = orjson.dumps(data)
    fast = _outcome(lambda x: record_parse(x, 7, "lossless"), line)
    careful = _outcome(lambda x: _careful(x, 7, "lossless"), line)
    assert fast == careful


def test_a_refused_line_is_named_with_what_is_wrong() -> None:
    with pytest.raises(InvalidRequest, match=r"Line 3: header 'a' is not valid base64"):
        record_parse(b'{"headers": [["a", "b"]]}', 3, "lossless")
    with pytest.raises(InvalidRequest, match=r"Line 4: partition must be a whole number"):
        record_parse(b'{"partition": true}', 4, "lossless")
    record = record_parse(
        b'{"key": "AAE=", "value": null, "headers": [["h", null]]}', 5, "lossless"
    )
    assert (record.key, record.value, record.headers) == (b"\x00\x01", None, (("h", None),))
