"""Masks fail closed: every way a masked card number was seen to get through (finding 3)."""

from __future__ import annotations

import base64
import json

import pytest
from confluent_kafka import Producer

from tests.integration.test_tail import run
from tests.security.conftest import CVV, PAN
from tests.security.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)

PANB, CVVB = PAN.encode(), CVV.encode()
# (key, value, headers): each a way the card number got past the masks before.
ATTACKS: list[tuple[bytes | None, bytes, list[tuple[str, str | bytes | None]]]] = [
    (None, b'{"pan": "' + PANB + b'"}\xff', []),  # not UTF-8
    (None, b'{"pan": ' + PANB + b"}", []),  # a JSON number
    (None, b'{"amount": 1, "ref": ' + PANB + b"}", []),  # a number in another field
    (None, b'{"pan": "x", "pan": "' + PANB + b'"}', []),  # a repeated key
    (None, ("{'pan': '" + PAN + "', 'who': 'Jos\xe9'}").encode("latin-1"), []),  # Latin-1
    (None, b'\xef\xbb\xbf{"pan": "' + PANB + b'", "cvv": "' + CVVB + b'"}', []),  # a BOM
    (None, b'{"a": 1}\n{"pan": "' + PANB + b'", "cvv": "' + CVVB + b'"}', []),  # two lines
    (None, b"{}", [("trace", b"\xfe" + PANB)]),  # a header value that is not UTF-8
    (b"\xff" + PANB, b"{}", []),  # a key that is not UTF-8
    (None, b"{}", [(f"x-{PAN}", b"1")]),  # a header name
    (None, b"\x00\x00\x00\x30\x39" + PANB, []),  # registry framing, no registry here
    (None, b"[" * 50_000 + PANB + b"]" * 50_000, []),  # nested too deep to walk
]


def spellings(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, raw.hex(), raw.hex(" "), base64.b64encode(raw).decode()]


def test_no_spelling_of_a_masked_value_leaves_the_server(scene) -> None:
    producer = Producer({"bootstrap.servers": scene["bootstrap"]})
    for key, value, headers in ATTACKS:
        producer.produce(scene["payments"], key=key, value=value, headers=headers)
    producer.produce(scene["payments"], value=b"after")
    assert producer.flush(15) == 0

    async def attack() -> tuple[str, list[dict], list[dict]]:
        tail = Socket(scene["payments"], scene["user"])
        await tail.open()
        await tail.send({"type": "start", "start": "earliest"})
        while len(tail.records()) < 10 + len(ATTACKS) + 1:
            frame = await tail.next()
            assert frame["type"] not in {"closed", "error"}, frame
        # A search for the card number, and for its digits as a regex: nothing matches.
        found = []
        for flt in ({"text": PAN}, {"text": PAN[:8], "regex": True}, {"text": "4111"}):
            await tail.send({"type": "start", "start": "earliest", "end": "now", "filter": flt})
            found.append(await tail.until("done"))
        await tail.close()
        return tail.text(), tail.records(), found

    text, records, found = run(attack)
    for spelled in spellings(PAN) + spellings(CVV):
        at = text.find(spelled)
        assert at < 0, (spelled, text[max(at - 300, 0) : at + 100])
    assert [d["matched"] for d in found] == [0, 0, 0]
    assert found[0]["scanned"] == 10 + len(ATTACKS) + 1
    # Hidden whole, with the reason, and marked as masked; the tail went on past them.
    shown = {r["offset"]: r for r in records}
    assert "not UTF-8" in shown[10]["value"]["text"] and shown[10]["value"]["masked"]
    assert "repeats a key" in shown[13]["value"]["text"]
    assert json.loads(shown[15]["value"]["text"]) == {"pan": "***", "cvv": "***"}
    assert records[-1]["value"]["text"] == "after"
