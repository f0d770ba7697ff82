"""Masks fail closed: every spelling of a hidden value that was seen to get through (pure logic)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.kafka.linear import linear_compile
from dashboard.kafka.masking import MaskedMessage, Masker
from dashboard.kafka.render import render_dict

PAN, CVV = "4111111111111111", "737"
MASKER = Masker.of(
    json_fields=["pan", "cvv", "card.number"], patterns=[linear_compile(r"\d{13,19}")]
)


def spellings(secret: str) -> list[str]:
    """The ways a leaked value could appear in a frame: text, hex, base64."""
    raw = secret.encode()
    return [secret, raw.hex(), raw.hex(" "), base64.b64encode(raw).decode()]


def shown(data: bytes | None) -> str:
    """What the renderer would send for masked bytes (the whole frame part, as JSON)."""
    return json.dumps(render_dict(MASKER.data(data)[0]))


ATTACKS = {
    "not utf-8": b'{"pan": "' + PAN.encode() + b'"}\xff',
    "json number": b'{"pan": ' + PAN.encode() + b"}",
    "number elsewhere": b'{"note": ' + PAN.encode() + b"}",
    "number as key": b'{"' + PAN.encode() + b'": 1}',
    "duplicate key": b'{"pan": "x", "pan": "' + PAN.encode() + b'"}',
    "latin-1": ("{'pan': '" + PAN + "', 'name': 'Jos\xe9'}").encode("latin-1"),
    "bom": b'\xef\xbb\xbf{"pan": "' + PAN.encode() + b'", "cvv": "' + CVV.encode() + b'"}',
    "two json lines": b'{"a": 1}\n{"pan": "' + PAN.encode() + b'", "cvv": "' + CVV.encode() + b'"}',
    "control characters": b'{"pan": "' + PAN.encode() + b'"}\x01',
    "deep nesting": b"[" * 50_000 + PAN.encode() + b"]" * 50_000,
    "cvv in broken json": b'{"cvv": "' + CVV.encode() + b'",}',
    "plain text": ("paid " + PAN).encode(),
    "json string": json.dumps(PAN).encode(),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_no_spelling_of_a_masked_value_gets_through(name: str) -> None:
    text = shown(ATTACKS[name])
    for secret in (PAN, CVV):
        for spelled in spellings(secret):
            if spelled == CVV and name not in {"bom", "two json lines", "cvv in broken json"}:
                continue  # 737 alone is not in those values
            assert spelled not in text, (name, spelled)


def test_what_cannot_be_read_is_hidden_with_a_reason() -> None:
    assert MASKER.data(b"\xff\xfe" + PAN.encode()) == (
        b"*** hidden: not UTF-8 text (18 bytes), so a mask cannot read it",
        True,
    )
    masked, hidden = MASKER.data(ATTACKS["duplicate key"])
    assert hidden and b"repeats a key" in (masked or b"")
    masked, hidden = MASKER.data(ATTACKS["two json lines"])
    assert hidden and b"does not parse" in (masked or b"")


def test_what_the_mask_can_read_stays_readable() -> None:
    assert MASKER.data(b"user-7") == (b"user-7", False)  # a plain key
    masked, hidden = MASKER.data(b'{"pan": ' + PAN.encode() + b', "amount": 12}')
    assert hidden and json.loads(masked or b"") == {"pan": "***", "amount": 12}
    masked, hidden = MASKER.data(ATTACKS["bom"])
    assert hidden and json.loads(masked or b"") == {"pan": "***", "cvv": "***"}
    assert MASKER.data(b'{"amount": 12}') == (b'{"amount": 12}', False)


def test_a_schema_that_could_not_be_decoded_is_hidden_without_its_reason() -> None:
    masked, hidden = MASKER.data(b"\x00\x00\x00\x00\x07" + PAN.encode(), undecoded=PAN)
    assert hidden and PAN.encode() not in (masked or b"")


class _Msg:
    def __init__(self, key: bytes | None, value: bytes | None, headers: list) -> None:
        self._k, self._v, self._h = key, value, headers

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes | None:
        return self._v

    def headers(self) -> list:
        return self._h


def test_keys_headers_and_header_names_are_masked_like_values() -> None:
    msg = _Msg(b"\xff" + PAN.encode(), b"{}", [(f"h-{PAN}", b"\xfe" + PAN.encode()), ("n", None)])
    seen = MaskedMessage(msg, MASKER)
    everything = repr((seen.key(), seen.value(), seen.headers()))
    for spelled in spellings(PAN):
        assert spelled not in everything
    assert seen.masked == {"key": True, "value": False, "any": True}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"", b"\xff", b'{"pan":', b"[", b"\xef\xbb\xbf"]))
def test_fuzzed_bytes_around_a_card_number_never_show_it(noise: bytes, prefix: bytes) -> None:
    text = shown(prefix + noise + PAN.encode() + noise)
    for spelled in spellings(PAN):
        assert spelled not in text
