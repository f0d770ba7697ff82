"""A batched OffsetFetch answer handed to each group (pure: futures, no broker)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from dashboard.kafka.errors import ClusterUnavailable
from dashboard.kafka.groups.read import FetchPart, _fetched, _result_or_error, committed_parse
from dashboard.kafka.protocol.fast import OffsetFetchAsk
from dashboard.kafka.protocol.messages import encode


def parts(groups: list[str], sent: Future[Any]) -> dict[str, FetchPart]:
    """Each group's handle on a batch answered as sent (as committed_send hands them out)."""
    batch: Future[dict[str, Any]] = Future()
    batch.set_result(_fetched("local", groups, None, sent))
    return {g: FetchPart(batch, g) for g in groups}


def answered(groups: list[dict[str, Any]]) -> Future[Any]:
    """The broker's answer as bytes on the wire, read as the connection reads it."""
    data = encode("OffsetFetchResponse", 9, {"ThrottleTimeMs": 0, "Groups": groups})
    sent: Future[Any] = Future()
    sent.set_result(OffsetFetchAsk.decode(9, data, 0))
    return sent


def partition(index: int, offset: int, error: int = 0) -> dict[str, Any]:
    return {
        "PartitionIndex": index,
        "CommittedOffset": offset,
        "CommittedLeaderEpoch": -1,
        "Metadata": "",
        "ErrorCode": error,
    }


def test_each_group_gets_its_own_offsets_and_a_partition_error_is_no_commit() -> None:
    futures = parts(
        ["a", "b"],
        answered(
            [
                {
                    "GroupId": "b",
                    "ErrorCode": 0,
                    "Topics": [{"Name": "t", "Partitions": [partition(0, 7), partition(1, -1)]}],
                },
                {
                    "GroupId": "a",
                    "ErrorCode": 0,
                    "Topics": [{"Name": "t", "Partitions": [partition(0, 3), partition(1, 9, 6)]}],
                },
            ]
        ),
    )
    a, _ = _result_or_error(futures["a"], cluster="local")
    b, _ = _result_or_error(futures["b"], cluster="local")
    assert committed_parse(a) == {("t", 0): 3}  # partition 1 answered an error
    assert committed_parse(b) == {("t", 0): 7}  # -1: nothing committed there


def test_an_unknown_group_is_no_group_and_a_refusal_is_that_groups_error() -> None:
    futures = parts(
        ["gone", "denied"],
        answered(
            [
                {"GroupId": "gone", "ErrorCode": KafkaError.GROUP_ID_NOT_FOUND, "Topics": []},
                {"GroupId": "denied", "ErrorCode": 30, "Topics": []},  # GROUP_AUTHORIZATION_FAILED
            ]
        ),
    )
    assert _result_or_error(futures["gone"], cluster="local") == (None, None)
    result, error = _result_or_error(futures["denied"], cluster="local")
    assert result is None and error is not None and "Kafka refused" in error
    with pytest.raises(KafkaException):
        futures["denied"].result()


def test_a_batch_without_an_answer_makes_every_group_of_it_unavailable() -> None:
    sent: Future[Any] = Future()
    sent.set_exception(ConnectionResetError("connection reset"))
    futures = parts(["a", "b"], sent)
    for future in futures.values():
        with pytest.raises(ClusterUnavailable):
            _result_or_error(future, cluster="local")
