"""ListOffsetsAsk and OffsetFetchAsk write the generic codec's bytes and read what it
reads: no broker."""

from __future__ import annotations

import pytest

from dashboard.kafka.protocol.fast import HIGH, LOW, ListOffsetsAsk, OffsetFetchAsk
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


@pytest.mark.parametrize("version", [8, 9])
@pytest.mark.parametrize("topics", [None, [("orders", [0, 3]), ("zażółć-ü", [1])]])
def test_offset_fetch_request_bytes_equal_the_generic_encoder(version: int, topics) -> None:
    ask = OffsetFetchAsk(["g1", "g-ü"], topics=topics)
    wanted = None if topics is None else [{"Name": t, "PartitionIndexes": ps} for t, ps in topics]
    values = {
        "Groups": [{"GroupId": g, "Topics": wanted} for g in ("g1", "g-ü")],
        "RequireStable": False,
    }
    assert ask.encode(version) == encode("OffsetFetchRequest", version, values)


def _commits_answer(version: int) -> bytes:
    def partition(p: int) -> dict:
        return {
            "PartitionIndex": p,
            "CommittedOffset": -1 if p == 1 else p * 1_000_003 + (1 << 40),
            "CommittedLeaderEpoch": 2,
            "Metadata": [None, "", "m" * 300][p % 3],
            "ErrorCode": 3 if p == 4 else 0,
        }

    groups = [
        {
            "GroupId": "g1",
            "Topics": [
                {"Name": name, "Partitions": [partition(p) for p in partitions]}
                for name, partitions in TOPICS
            ],
            "ErrorCode": 0,
        },
        {"GroupId": "g-moved", "Topics": [], "ErrorCode": 16},
        {"GroupId": "g-ü", "Topics": [{"Name": "t", "Partitions": []}], "ErrorCode": 0},
    ]
    return encode("OffsetFetchResponse", version, {"ThrottleTimeMs": 1, "Groups": groups})


@pytest.mark.parametrize("version", [8, 9])
def test_offset_fetch_answer_reads_as_the_generic_decoder_reads_it(version: int) -> None:
    data = _commits_answer(version)
    generic, _ = decode("OffsetFetchResponse", version, data)
    expected = [
        (
            g["GroupId"],
            g["ErrorCode"],
            {
                (t["Name"], p["PartitionIndex"]): p["CommittedOffset"]
                for t in g["Topics"]
                for p in t["Partitions"]
                if p["ErrorCode"] == 0 and p["CommittedOffset"] >= 0
            },
        )
        for g in generic["Groups"]
    ]
    got = OffsetFetchAsk.decode(version, data, 0)
    assert got == expected
    commits = got[0][2]
    assert ("orders", 1) not in commits  # -1: nothing committed
    assert ("x" * 200, 4) not in commits  # a partition's error
    assert commits[("x" * 200, 5)] == 5 * 1_000_003 + (1 << 40)  # after a long Metadata
    assert got[1] == ("g-moved", 16, {})


def test_every_cut_of_an_offset_fetch_answer_is_a_protocol_error() -> None:
    data = _commits_answer(9)
    for cut in range(len(data)):
        with pytest.raises(ProtocolError):
            OffsetFetchAsk.decode(9, data[:cut], 0)
