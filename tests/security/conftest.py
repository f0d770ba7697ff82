"""Security tests: each attack we know of, against the session's real servers (tests/servers.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from django.contrib.auth.models import Group
from django.test import override_settings

from dashboard.access.rules import access_parse
from dashboard.kafka.config import ClusterConfig, RegistryConfig
from devtools.broker import LocalBroker
from tests.helpers import PASSWORD, clusters_for, unique


@pytest.fixture(scope="session", autouse=True)
def _database_sessions_closed(database_sessions_closed: None) -> None:
    """Every session ends the database's other connections before dropping it."""


# The payments team sees payments.* and payments-* groups, may tail and reset them; the
# topics are masked for it (card numbers, cvv). hr.* and billing-* are hidden from it.
RULES = r"""
[[rules]]
groups = ["payments-team"]
clusters = ["local"]
topics = ["payments\\..*"]
consumer_groups = ["payments-.*"]
actions = ["view", "tail", "reset"]

[[masks]]
topics = ["payments\\..*"]
json_fields = ["pan", "cvv", "card.number"]
regex = ["\\d{13,19}"]
"""
PAN = "4111111111111111"
CVV = "737"


@pytest.fixture(scope="session", autouse=True)
def kafka_settings(kafka_broker: LocalBroker) -> Iterator[None]:
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers), KAFKAVIEW_READ_MAX_AGE=0
    ):
        yield


def commit(bootstrap: str, group: str, offsets: list[tuple[str, int, int]]) -> None:
    """Commit offsets for a group without joining it."""
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committer.commit(offsets=[TopicPartition(t, p, o) for t, p, o in offsets], asynchronous=False)
    committer.close()


@pytest.fixture
def scene(kafka_broker, make_topic, django_user_model, client) -> Iterator[dict[str, Any]]:
    """A masked payments user, a visible and a hidden topic, a visible and a hidden group."""
    bootstrap = kafka_broker.bootstrap_servers
    tag = unique("x")
    payments = make_topic(f"payments.cards-{tag}")
    hidden = make_topic(f"hr.salaries-{tag}")
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        producer.produce(payments, key=f"k{i}".encode(), value=json.dumps({"n": i}).encode())
        producer.produce(hidden, value=b"salary")
    assert producer.flush(15) == 0
    etl, billing = f"payments-etl-{tag}", f"billing-etl-{tag}"
    commit(bootstrap, etl, [(payments, 0, 2)])
    commit(bootstrap, billing, [(payments, 0, 7), (hidden, 0, 3)])
    user = django_user_model.objects.create_user(username=unique("pay"), password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="payments-team")[0])
    client.force_login(user)
    with override_settings(KAFKAVIEW_ACCESS=access_parse(RULES, source="access.toml")):
        yield {
            "client": client,
            "user": user,
            "payments": payments,
            "hidden": hidden,
            "etl": etl,
            "billing": billing,
            "bootstrap": bootstrap,
        }


@pytest.fixture
def registry_local(kafka_broker, schema_registry):
    local = ClusterConfig(
        name="local",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        schema_registry=RegistryConfig(url=schema_registry.url),
    )
    clusters = clusters_for(kafka_broker.bootstrap_servers)
    clusters = type(clusters)(by_name={"local": local}, default="local", source="environment")
    with override_settings(KAFKAVIEW_CLUSTERS=clusters):
        yield SchemaRegistryClient({"url": schema_registry.url, "timeout": 10})
