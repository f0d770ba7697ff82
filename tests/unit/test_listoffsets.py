"""ListOffsetsAsk writes the generic codec's bytes and reads what it reads: no broker."""

from __future__ import annotations

import pytest

from dashboard.kafka.protocol.listoffsets import HIGH, LOW, ListOffsetsAsk
from dashboard.kafka.protocol.messages import ProtocolError, decode, encode, spec
from dashboard.kafka.topics import _chunks

TOPICS = [("orders", [0, 1, 2]), ("zażółć-ü", [7]), ("x" * 200, list(range(130)))]


def test_the_versions_it_speaks_are_the_specs_flexible_ones() -> None:
    request = spec("ListOffsetsRequest")
    assert request.valid.high == HIGH
    assert all(v in request.flexible for v in range(LOW, HIGH + 1))
    assert LOW - 1 not in request.flexible


@pytest.mark.parametrize("version", range(LOW, HIGH + 1))
@pytest.mark.parametrize(
    ("stamp", "committed"), [(-1, False), (-2, True), (1_700_000_000_000, True)]
)
def test_request_bytes_equal_the_generic_encoder(version: int, stamp: int, committed: bool) -> None:
    ask = ListOffsetsAsk(TOPICS, timestamp=stamp, read_committed=committed)
    generic = {
        "ReplicaId": -1,
        "IsolationLevel": 1 if committed else 0,
        "Topics": [
            {
                "Name": name,
                "Partitions": [
                    {"PartitionIndex": p, "CurrentLeaderEpoch": -1, "Timestamp": stamp}
                    for p in partitions
                ],
            }
            for name, partitions in TOPICS
        ],
        "TimeoutMs": 0,
    }
    assert ask.encode(version) == encode("ListOffsetsRequest", version, generic)


def _answer(version: int) -> tuple[dict, bytes]:
    values = {
        "ThrottleTimeMs": 3,
        "Topics": [
            {
                "Name": name,
                "Partitions": [
                    {
                        "PartitionIndex": p,
                        "ErrorCode": 6 if p == 2 else 0,
                        "Timestamp": -1,
                        "Offset": p * 1_000_003 + (1 << 40),
                        "LeaderEpoch": 4,
                    }
                    for p in partitions
                ],
            }
            for name, partitions in TOPICS
        ],
    }
    return values, encode("ListOffsetsResponse", version, values)


def _rows(decoded: dict) -> list[tuple[str, int, int, int]]:
    return [
        (t["Name"], p["PartitionIndex"], p["ErrorCode"], p["Offset"])
        for t in decoded["Topics"]
        for p in t["Partitions"]
    ]


@pytest.mark.parametrize("version", range(LOW, HIGH + 1))
def test_an_answer_reads_as_the_generic_decoder_reads_it(version: int) -> None:
    _, data = _answer(version)
    generic, _ = decode("ListOffsetsResponse", version, data)
    rows = ListOffsetsAsk.decode(version, data, 0)
    assert rows == _rows(generic)
    assert ("orders", 2, 6, 2 * 1_000_003 + (1 << 40)) in rows


def test_tagged_fields_a_newer_broker_adds_are_skipped() -> None:
    partition = (0).to_bytes(4, "big", signed=True) + bytes(2) + bytes(8) + (5).to_bytes(8, "big")
    partition += bytes(4)
    data = (
        bytes(4)  # ThrottleTimeMs
        + b"\x02"  # one topic
        + b"\x02t"
        + b"\x03"  # two partitions
        + partition
        + b"\x01\x05\x02hi"  # a partition's unknown tag 5
        + partition.replace((5).to_bytes(8, "big"), (9).to_bytes(8, "big"))
        + b"\x00"
        + b"\x01\x07\x01z"  # the topic's unknown tag 7
        + b"\x01\x09\x00"  # the answer's unknown tag 9
    )
    generic, _ = decode("ListOffsetsResponse", 6, data)
    assert ListOffsetsAsk.decode(6, data, 0) == _rows(generic) == [("t", 0, 0, 5), ("t", 0, 0, 9)]


def test_every_cut_of_an_answer_is_a_protocol_error() -> None:
    _, data = _answer(8)
    for cut in range(len(data)):
        with pytest.raises(ProtocolError):
            ListOffsetsAsk.decode(8, data[:cut], 0)


def test_versions_it_does_not_know_are_refused() -> None:
    ask = ListOffsetsAsk(TOPICS, timestamp=-1, read_committed=False)
    with pytest.raises(ProtocolError):
        ask.encode(LOW - 1)
    with pytest.raises(ProtocolError):
        ListOffsetsAsk.decode(HIGH + 1, b"", 0)


def test_chunks_split_a_wide_topic_and_keep_every_partition_once() -> None:
    topics = {"a": [0, 1, 2], "b": list(range(7)), "c": [4]}
    chunks = list(_chunks(topics, 4))
    assert [sum(len(ps) for _, ps in c) for c in chunks] == [4, 4, 3]
    assert chunks[0] == [("a", [0, 1, 2]), ("b", [0])]
    flat = [(t, p) for c in chunks for t, ps in c for p in ps]
    assert flat == [(t, p) for t, ps in topics.items() for p in ps]
