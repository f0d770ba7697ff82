"""Which Kafka errors mean "down", and cached clients replaced after failures (no broker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException

from dashboard.apps import kafka_configure
from dashboard.kafka.client import clients as clusters
from dashboard.kafka.client.clients import (
    RETIRE_EVERY_SECONDS,
    admin_client,
    admin_clients_forget,
    admin_retire,
    clusters_configure,
    is_transient,
    translate,
)
from dashboard.kafka.cluster import cluster_overview
from dashboard.kafka.errors import ClusterUnavailable, InvalidRequest
from tests.helpers import clusters_for


@pytest.fixture
def dead_cluster() -> Iterator[str]:
    """The client layer pointed at a port nothing listens on (no connection is needed)."""
    clusters_configure(clusters=clusters_for("127.0.0.1:1"), request_timeout=0.5)
    admin_clients_forget()
    try:
        yield "local"
    finally:
        admin_clients_forget()
        kafka_configure()


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (KafkaError._TRANSPORT, True),
        (KafkaError._TIMED_OUT, True),
        (KafkaError._NOENT, True),  # "Failed to query partition leaders: No leaders found"
        (KafkaError.LEADER_NOT_AVAILABLE, True),
        (KafkaError.NOT_LEADER_FOR_PARTITION, True),
        (KafkaError.COORDINATOR_LOAD_IN_PROGRESS, True),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, False),  # a 404, though Kafka calls it retriable
        (KafkaError.TOPIC_ALREADY_EXISTS, False),
        (KafkaError.INVALID_PARTITIONS, False),
    ],
)
def test_transient_errors_are_503_not_400(dead_cluster: str, code: int, transient: bool) -> None:
    error = KafkaError(code)
    assert is_transient(error) is transient
    translated = translate(KafkaException(error), cluster=dead_cluster)
    assert isinstance(translated, ClusterUnavailable if transient else InvalidRequest)


def test_a_timeout_is_unavailable_and_names_the_cluster(dead_cluster: str) -> None:
    translated = translate(TimeoutError(), cluster=dead_cluster)
    assert isinstance(translated, ClusterUnavailable)
    assert translated.bootstrap_servers == "127.0.0.1:1"


def test_a_failed_client_is_replaced_at_most_once_per_interval(dead_cluster: str) -> None:
    first = admin_client(cluster=dead_cluster)
    assert admin_client(cluster=dead_cluster) is first  # cached while it works
    assert admin_retire(cluster=dead_cluster, now=1000.0)
    second = admin_client(cluster=dead_cluster)
    assert second is not first
    # A flapping cluster does not churn clients: not again within the interval.
    assert not admin_retire(cluster=dead_cluster, now=1000.0 + RETIRE_EVERY_SECONDS / 2)
    assert admin_client(cluster=dead_cluster) is second
    assert admin_retire(cluster=dead_cluster, now=1000.0 + RETIRE_EVERY_SECONDS)
    # Replaced clients stay referenced for a while: no handle dies with a request in flight.
    assert [client for _, client in clusters._retired] == [first, second]


def test_an_unanswered_request_replaces_the_client(dead_cluster: str) -> None:
    before = admin_client(cluster=dead_cluster)
    with pytest.raises(ClusterUnavailable):
        cluster_overview(cluster=dead_cluster)
    assert admin_client(cluster=dead_cluster) is not before


def test_a_leadership_change_under_way_is_the_cluster_not_answering_yet() -> None:
    from confluent_kafka import KafkaError

    from dashboard.kafka.client.clients import is_transient

    for code in (
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
    ):
        assert is_transient(KafkaError(code))
    assert not is_transient(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
