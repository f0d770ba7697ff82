"""Our Kafka protocol codec (from Kafka's JSON specs), the group-type rules and SCRAM: no broker."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Any

import pytest

from dashboard.kafka.client.brokers import state_name
from dashboard.kafka.groups.listing import group_type
from dashboard.kafka.groups.share import share_parse
from dashboard.kafka.groups.streams import streams_parse
from dashboard.kafka.protocol.messages import (
    SPECS,
    Field,
    ProtocolError,
    Versions,
    decode,
    encode,
    request_header_version,
    response_header_version,
    spec,
)
from dashboard.kafka.protocol.wire import scram_final

SPEC_NAMES = sorted(p.stem for p in SPECS.glob("*.json"))


def _sample(message: str, version: int, fields: tuple[Field, ...], depth: int = 0) -> dict:
    """A value for every field present at the version, none of them at its default."""
    structs = spec(message).structs
    out: dict[str, Any] = {}
    for i, f in enumerate(fields):
        if version not in f.versions:
            continue
        out[f.name] = _value(message, version, f, f.type, i, depth, structs)
    return out


def _value(message, version, f, kind, i, depth, structs) -> Any:  # noqa: PLR0917
    if kind.startswith("[]"):
        return [_value(message, version, f, kind[2:], i + n, depth, structs) for n in range(2)]
    scalars = {
        "bool": True,
        "int8": -3 - i,
        "int16": 300 + i,
        "uint16": 65000,
        "int32": -70000 - i,
        "uint32": 4_000_000_000,
        "int64": 2**40 + i,
        "float64": 1.5,
        "string": f"{f.name}-ü-{i}",
        "bytes": bytes([i, 0, 255]),
        "records": b"\x00\x01",
        "uuid": uuid.UUID(int=i + 1),
    }
    if kind in scalars:
        return scalars[kind]
    children = structs.get(kind, f.fields)
    return _sample(message, version, children, depth + 1)


def _versions(name: str) -> list[int]:
    valid = spec(name).valid
    return list(range(valid.low, (valid.high if valid.high is not None else valid.low) + 1))


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_vendored_spec_round_trips_at_every_version(name: str) -> None:
    for version in _versions(name):
        values = _sample(name, version, spec(name).fields)
        data = encode(name, version, values)
        decoded, end = decode(name, version, data)
        assert end == len(data)
        assert _subset(values, decoded), (name, version)


@pytest.mark.parametrize("name", [n for n in SPEC_NAMES if n.endswith("Response")])
def test_every_cut_of_an_answer_is_a_protocol_error(name: str) -> None:
    # The compiled decoder reads with unpack_from and slices: a short message must still
    # be our ProtocolError (the pool's callers catch it), never struct.error or IndexError.
    version = _versions(name)[-1]
    data = encode(name, version, _sample(name, version, spec(name).fields))
    for cut in range(len(data)):
        try:
            _, end = decode(name, version, data[:cut])
        except ProtocolError:
            continue
        # A prefix may itself be a whole message (trailing empty arrays, defaults): then
        # it says where it ended, inside the bytes it was given.
        assert end <= cut, (name, cut)


def _subset(sent: Any, got: Any) -> bool:
    """Every value sent came back (the decoder also fills fields of other versions)."""
    if isinstance(sent, dict):
        return all(k in got and _subset(v, got[k]) for k, v in sent.items())
    if isinstance(sent, list):
        return len(sent) == len(got) and all(map(_subset, sent, got))
    return bool(sent == got)


def test_versions_parse() -> None:
    assert 7 in Versions.parse("3+") and 2 not in Versions.parse("3+")
    assert 2 in Versions.parse("1-3") and 4 not in Versions.parse("1-3")
    assert 5 in Versions.parse("5") and 6 not in Versions.parse("5")
    assert 0 not in Versions.parse("none")


def test_request_bytes_match_the_protocol_guide() -> None:
    # Header v2: the client id stays a non-compact string (its own flexibleVersions "none").
    header = encode(
        "RequestHeader",
        2,
        {"RequestApiKey": 16, "RequestApiVersion": 5, "CorrelationId": 1, "ClientId": "ab"},
    )
    assert header == b"\x00\x10\x00\x05\x00\x00\x00\x01\x00\x02ab\x00"
    # ListGroups v5 is flexible: compact arrays (length + 1) and an empty tag buffer.
    body = encode("ListGroupsRequest", 5, {"StatesFilter": [], "TypesFilter": ["share"]})
    assert body == b"\x01\x02\x06share\x00"
    # v3 knows no TypesFilter: it is simply not sent.
    assert encode("ListGroupsRequest", 3, {"TypesFilter": ["share"]}) == b"\x00"


def test_header_versions() -> None:
    assert request_header_version("ListGroupsRequest", 5) == 2
    assert request_header_version("ListGroupsRequest", 2) == 1
    assert response_header_version("ListGroupsResponse", 5) == 1
    # ApiVersions answers with header v0 even when flexible (KIP-511).
    assert response_header_version("ApiVersionsResponse", 3) == 0


def test_array_of_structs_that_may_be_null_has_no_marker_per_element() -> None:
    # Subtopologies is a nullable array: its nullability is its length, not a byte per item.
    topology = {"Epoch": 0, "Subtopologies": [{"SubtopologyId": "0"}]}
    group = {"GroupId": "g", "GroupState": "Stable", "Topology": topology, "Members": []}
    data = encode("StreamsGroupDescribeResponse", 0, {"Groups": [group]})
    decoded, _ = decode("StreamsGroupDescribeResponse", 0, data)
    assert decoded["Groups"][0]["Topology"]["Subtopologies"][0]["SubtopologyId"] == "0"
    null_topology = {**group, "Topology": None}
    data = encode("StreamsGroupDescribeResponse", 0, {"Groups": [null_topology]})
    assert decode("StreamsGroupDescribeResponse", 0, data)[0]["Groups"][0]["Topology"] is None


def test_tagged_fields_round_trip_and_unknown_tags_are_skipped() -> None:
    values = {"ErrorCode": 0, "ApiKeys": [], "FinalizedFeaturesEpoch": 7}
    data = encode("ApiVersionsResponse", 3, values)
    assert decode("ApiVersionsResponse", 3, data)[0]["FinalizedFeaturesEpoch"] == 7
    # The same answer with an extra tag 9 a newer broker might send: read past it.
    assert data.endswith(b"\x01\x01\x08\x00\x00\x00\x00\x00\x00\x00\x07")
    newer = data[:-11] + b"\x02\x01\x08\x00\x00\x00\x00\x00\x00\x00\x07\x09\x02hi"
    assert decode("ApiVersionsResponse", 3, newer)[0]["FinalizedFeaturesEpoch"] == 7


def test_truncated_or_invalid_input_is_a_protocol_error() -> None:
    data = encode("ListGroupsResponse", 5, {"Groups": [{"GroupId": "g", "GroupType": "share"}]})
    for cut in (1, 5, len(data) - 2):
        with pytest.raises(ProtocolError):
            decode("ListGroupsResponse", 5, data[:cut])
    with pytest.raises(ProtocolError):
        encode("ListGroupsRequest", 9, {})
    with pytest.raises(ProtocolError):
        encode("ShareGroupDescribeResponse", 1, {"Groups": [{"Members": [{"Assignment": None}]}]})


@pytest.mark.parametrize(
    ("kind", "protocol", "shown"),
    [
        ("Classic", "consumer", "classic"),
        ("Classic", "", "classic"),  # a group that only commits offsets
        ("Classic", "connect", "connect"),
        ("Classic", "mystery", "mystery"),
        ("Consumer", "consumer", "consumer"),
        ("Share", "share", "share"),
        ("Streams", "streams", "streams"),
        ("", "connect", "connect"),  # brokers before ListGroups v5 send no type
    ],
)
def test_group_type(kind: str, protocol: str, shown: str) -> None:
    assert group_type(group_type=kind, protocol_type=protocol) == shown


@pytest.mark.parametrize(
    ("kafka", "ours"),
    [
        ("Stable", "stable"),
        ("Empty", "empty"),
        ("PreparingRebalance", "preparing_rebalancing"),
        ("CompletingRebalance", "completing_rebalancing"),
        ("NotReady", "not_ready"),
        ("Assigning", "assigning"),
        ("", "unknown"),
    ],
)
def test_state_name(kafka: str, ours: str) -> None:
    assert state_name(kafka) == ours


def test_scram_sha256_matches_rfc_7677() -> None:
    message, server_signature = scram_final(
        algorithm="sha256",
        password="pencil",
        client_nonce="rOprNGfwEbeRWgbNEkqO",
        client_first_bare="n=user,r=rOprNGfwEbeRWgbNEkqO",
        server_first="r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    )
    assert message == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert server_signature == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def _done(value: dict) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _share_member(member_id: str, partitions: list[int]) -> dict:
    return {
        "MemberId": member_id,
        "RackId": None,
        "MemberEpoch": 4,
        "ClientId": f"client-{member_id}",
        "ClientHost": "/10.0.0.1",
        "SubscribedTopicNames": ["orders"],
        "Assignment": {
            "TopicPartitions": [
                {"TopicId": uuid.uuid4(), "TopicName": "orders", "Partitions": partitions}
            ]
        },
    }


def test_share_answers_keep_each_groups_error_and_shared_partitions() -> None:
    described = {
        "Groups": [
            {
                "ErrorCode": 0,
                "ErrorMessage": None,
                "GroupId": "queue",
                "GroupState": "Stable",
                "GroupEpoch": 5,
                "AssignmentEpoch": 5,
                "AssignorName": "simple",
                # Two members share partition 0: a share group allows it.
                "Members": [_share_member("a", [0, 1]), _share_member("b", [0])],
            },
            {
                "ErrorCode": 30,
                "ErrorMessage": "not allowed",
                "GroupId": "secret",
                "GroupState": "",
                "GroupEpoch": -1,
                "AssignmentEpoch": -1,
                "AssignorName": "",
                "Members": [],
            },
        ]
    }
    partition = {"LeaderEpoch": 0, "ErrorCode": 0, "ErrorMessage": None}
    offsets = {
        "Groups": [
            {
                "GroupId": "queue",
                "ErrorCode": 0,
                "ErrorMessage": None,
                "Topics": [
                    {
                        "TopicName": "orders",
                        "TopicId": uuid.uuid4(),
                        "Partitions": [
                            {**partition, "PartitionIndex": 0, "StartOffset": 10, "Lag": 5},
                            {**partition, "PartitionIndex": 1, "StartOffset": -1, "Lag": -1},
                        ],
                    }
                ],
            },
            {"GroupId": "secret", "ErrorCode": 30, "ErrorMessage": None, "Topics": []},
        ]
    }
    parsed = share_parse(cluster="c", described=_done(described), offsets=_done(offsets))
    queue = parsed["queue"]
    assert queue.state == "stable" and queue.error is None
    assert [(p.partition, p.start_offset, p.lag, p.owners) for p in queue.partitions] == [
        (0, 10, 5, ("a", "b")),
        (1, None, None, ("a",)),
    ]
    assert queue.total_lag == 5 and queue.members[0].host == "10.0.0.1"
    assert parsed["secret"].error == "GROUP_AUTHORIZATION_FAILED: not allowed"
    assert parsed["secret"].state == "unknown"


def test_streams_tasks_map_to_their_source_partitions() -> None:
    tasks = [{"SubtopologyId": "0", "Partitions": [1]}, {"SubtopologyId": "1", "Partitions": [0]}]
    member = {
        "MemberId": "m",
        "MemberEpoch": 2,
        "InstanceId": None,
        "RackId": None,
        "ClientId": "app-1",
        "ClientHost": "/127.0.0.1",
        "TopologyEpoch": 0,
        "ProcessId": "p",
        "Assignment": {"ActiveTasks": tasks, "StandbyTasks": [], "WarmupTasks": []},
        "TargetAssignment": {"ActiveTasks": tasks, "StandbyTasks": [], "WarmupTasks": []},
    }
    sub: dict[str, Any] = {
        "RepartitionSinkTopics": [],
        "StateChangelogTopics": [],
        "RepartitionSourceTopics": [],
    }
    topology = {
        "Epoch": 0,
        "Subtopologies": [
            {**sub, "SubtopologyId": "0", "SourceTopics": ["words", "more-words"]},
            {
                **sub,
                "SubtopologyId": "1",
                "SourceTopics": [],
                "RepartitionSourceTopics": [{"Name": "app-repartition"}],
            },
        ],
    }
    group = {
        "ErrorCode": 0,
        "ErrorMessage": None,
        "GroupId": "app",
        "GroupState": "Stable",
        "GroupEpoch": 2,
        "AssignmentEpoch": 2,
        "Topology": topology,
        "Members": [member],
    }
    (m,) = streams_parse(cluster="c", described=_done({"Groups": [group]}))["app"].members
    assert m.active_tasks == ("0_1", "1_0")
    assert m.assignment == (("app-repartition", 0), ("more-words", 1), ("words", 1))
