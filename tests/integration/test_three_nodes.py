"""A three-broker cluster (a KRaft controller apart, as in production), Kafka's tools the judge:
the internals page equals kafka-features, kafka-metadata-quorum and kafka-log-dirs; with two
brokers stopped, the topic page's ISR and eligible leader replicas (KIP-966) equal
kafka-topics --describe, and the stopped brokers show as fenced (KIP-1073)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from dashboard.alerts.rules import alerts_parse
from dashboard.alerts.service import alerts_after_round
from dashboard.kafka.config import ClusterConfig
from dashboard.lag.sampler import Sampler
from devtools.broker import LocalCluster
from tests.helpers import CACHE_DIR, SteppedClock, clusters_for, unique, until
from tests.integration.test_internals import (
    features_match,
    log_dirs_match,
    quorum_match,
    sized_topic,
    tool,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(data_dir=tmp_path_factory.mktemp("trio"), cache_dir=CACHE_DIR)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def on_trio(trio: LocalCluster, kafka_broker: Any) -> Iterator[LocalCluster]:
    config = ClusterConfig(name="trio", bootstrap_servers=trio.bootstrap_servers)
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, trio=config)
    ):
        yield trio


def topic_create(bootstrap: str, *, min_isr: int = 1) -> str:
    name = unique("trio")
    args = ["--create", "--topic", name, "--partitions", "2", "--replication-factor", "3"]
    tool(bootstrap, "topics", *args, "--config", f"min.insync.replicas={min_isr}")
    return name


def described(bootstrap: str, topic: str) -> dict[int, dict[str, str]]:
    """kafka-topics --describe: each partition's "Key: value" cells (tab separated)."""
    rows = {}
    for line in tool(bootstrap, "topics", "--describe", "--topic", topic).splitlines():
        cells = dict(
            (c.split(":", 1)[0].strip(), c.split(":", 1)[1].strip())
            for c in line.split("\t")
            if ":" in c
        )
        if "Partition" in cells:
            rows[int(cells["Partition"])] = cells
    return rows


def nodes(cell: str) -> list[int]:
    return [int(n) for n in cell.split(",") if n]


def test_internals_equal_kafkas_tools_on_three_brokers(on_trio: LocalCluster, operator) -> None:
    bootstrap = on_trio.bootstrap_servers
    topic = topic_create(bootstrap)
    sized_topic(bootstrap, topic)
    answer = operator.get("/api/clusters/trio/internals/")
    assert answer.status_code == 200, answer.content
    ours = answer.json()
    assert [b["id"] for b in ours["brokers"]["brokers"]] == [1, 2, 3]
    assert [b["fenced"] for b in ours["brokers"]["brokers"]] == [False] * 3
    features_match(ours, bootstrap)
    quorum_match(ours, bootstrap)
    # The controller is the one voter and leads; the three brokers observe.
    roles = {r["node"]: r["role"] for r in ours["quorum"]["replicas"]}
    assert roles == {0: "leader", 1: "observer", 2: "observer", 3: "observer"}
    log_dirs_match(ours, bootstrap, topic)


def test_with_two_brokers_stopped_the_elr_and_fenced_brokers_equal_kafkas_tools(
    on_trio: LocalCluster, operator
) -> None:
    bootstrap = on_trio.bootstrap_servers
    topic = topic_create(bootstrap, min_isr=2)
    sized_topic(bootstrap, topic)
    for p in described(bootstrap, topic).values():
        assert (p["Elr"], p["LastKnownElr"]) == ("", "")
    # Broker 3 stops: the ISR keeps min.insync.replicas (2), no ELR. Broker 2 stops: the ISR
    # falls below it, and 2, which held every committed record, becomes eligible (KIP-966).
    for node_id in (3, 2):
        on_trio.broker(node_id).stop()

    # The controller moves the ISR as each broker shuts down (a moment, in another process).
    def shrunk() -> dict[int, dict[str, str]] | None:
        d = described(on_trio.broker(1).bootstrap_servers, topic)
        return d if all(p["Isr"] == "1" for p in d.values()) else None

    theirs = until(shrunk, step=0.5)
    assert all(p["Isr"] == "1" for p in theirs.values()), theirs
    ours = operator.get(f"/api/clusters/trio/topics/{topic}/").json()["partitions"]
    assert {
        p["partition"]: (p["leader"], p["isr"], p["elr"], p["last_known_elr"]) for p in ours
    } == {
        n: (int(p["Leader"]), nodes(p["Isr"]), nodes(p["Elr"]), nodes(p["LastKnownElr"]))
        for n, p in theirs.items()
    }
    assert any(p["elr"] for p in ours)
    page = operator.get(f"/clusters/trio/topics/{topic}/").content.decode()
    assert "Eligible leaders (ELR)" in page

    inside = operator.get("/api/clusters/trio/internals/").json()
    listed_elr = {
        p["partition"]: (p["isr"], p["elr"], p["last_known_elr"])
        for p in inside["eligible_leaders"]["partitions"]
        if p["topic"] == topic
    }
    assert listed_elr == {
        n: (nodes(p["Isr"]), nodes(p["Elr"]), nodes(p["LastKnownElr"]))
        for n, p in theirs.items()
        if p["Elr"] or p["LastKnownElr"]
    }
    fenced = inside["brokers"]
    printed = tool(
        on_trio.broker(1).bootstrap_servers,
        "cluster",
        "--include-fenced-brokers",
        first=("list-endpoints",),
    )
    header, *rows = [line.split() for line in printed.splitlines() if line.strip()]
    listed = [dict(zip(header, r, strict=True)) for r in rows]
    assert fenced["ok"], fenced
    assert {b["id"]: (b["host"], b["port"], b["fenced"]) for b in fenced["brokers"]} == {
        int(r["ID"]): (r["HOST"], int(r["PORT"]), r["STATE"] == "fenced") for r in listed
    }
    assert [b["fenced"] for b in fenced["brokers"]] == [False, True, True]

    # An alert rule on under-replicated partitions opens on the sampler's next round.
    rules = alerts_parse(
        '[[rules]]\nname = "replicas"\non = "topic"\nwhen = "under_replicated"\n'
        f'match = "{topic}"\n',
        source="alerts.toml",
    )
    result = Sampler(cluster="trio", interval=10, window=3, clock=SteppedClock()).round()
    assert result.ok, result.error
    (opened,) = alerts_after_round(result, rules=rules)
    assert (opened.kind, opened.reading.value) == ("open", 2)
    assert opened.reading.text == "2 partition(s) under-replicated"
