"""The internals page against Kafka's own tools: kafka-features, kafka-metadata-quorum,
kafka-log-dirs, on the session's one node (real broker); test_three_nodes.py runs the same
comparison on a three-broker cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import Producer

from devtools.broker import cli_run
from tests.helpers import CACHE_DIR

pytestmark = pytest.mark.django_db


def tool(bootstrap: str, name: str, *args: str, first: tuple[str, ...] = ()) -> str:
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool=name,
        args=[*first, "--bootstrap-server", bootstrap, *args],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sized_topic(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(200):
        producer.produce(topic, value=b"x" * 500, partition=i % 2)
    assert producer.flush(15) == 0


def features_match(ours: dict[str, Any], bootstrap: str) -> dict[str, tuple[str, str, str]]:
    """kafka-features describe: "Feature: n  SupportedMinVersion: a  SupportedMaxVersion: b
    FinalizedVersionLevel: c  Epoch: e" a line; every node of ours supports the same."""
    theirs = {}
    for line in tool(bootstrap, "features", "describe").splitlines():
        cells = line.split()
        if cells[:1] == ["Feature:"]:
            theirs[cells[1]] = (cells[3], cells[5], cells[7])
    for b in ours["brokers"]["brokers"]:
        node = str(b["id"])
        mine = {
            f["name"]: (f["supported"][node]["min"], f["supported"][node]["max"], f["finalized"])
            for f in ours["features"]["features"]
        }
        assert mine == theirs, node
    assert ours["features"]["metadata_version"] == theirs["metadata.version"][2]
    return theirs


def quorum_match(ours: dict[str, Any], bootstrap: str) -> None:
    """kafka-metadata-quorum describe --status and --replication."""
    status = dict(
        (line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
        for line in tool(bootstrap, "metadata-quorum", "describe", "--status").splitlines()
        if ":" in line
    )
    quorum = ours["quorum"]
    assert str(quorum["leader"]) == status["LeaderId"]
    assert str(quorum["epoch"]) == status["LeaderEpoch"]
    assert str(quorum["max_follower_lag"]) == status["MaxFollowerLag"]
    voters = {v["id"] for v in json.loads(status["CurrentVoters"])}
    assert voters == {r["node"] for r in quorum["replicas"] if r["role"] != "observer"}
    observers = {v["id"] for v in json.loads(status["CurrentObservers"])}
    assert observers == {r["node"] for r in quorum["replicas"] if r["role"] == "observer"}
    printed = tool(bootstrap, "metadata-quorum", "describe", "--replication").splitlines()
    header, *table = [line.split() for line in printed if line.strip()]
    replication = [dict(zip(header, c, strict=False)) for c in table]
    assert {(r["NodeId"], r["Status"].lower()) for r in replication} == {
        (str(r["node"]), r["role"]) for r in quorum["replicas"]
    }


def log_dirs_match(ours: dict[str, Any], bootstrap: str, topic: str) -> None:
    """kafka-log-dirs --describe: each broker's directory and the topic's bytes in it."""
    out = tool(bootstrap, "log-dirs", "--describe").splitlines()
    described = json.loads(next(line for line in out if line.startswith("{")))
    theirs = {}
    for broker in described["brokers"]:
        (their_dir,) = broker["logDirs"]
        sizes = [p["size"] for p in their_dir["partitions"] if p["partition"].startswith(topic)]
        theirs[broker["broker"]] = (their_dir["logDir"], sum(sizes))
    mine = {}
    for d in ours["log_dirs"]["dirs"]:
        assert d["error"] is None
        mine[d["broker"]] = (d["path"], {t["topic"]: t["bytes"] for t in d["topics"]}[topic])
    assert mine == theirs
    assert all(size > 100_000 for _, size in mine.values())


def test_features_quorum_brokers_and_log_dirs_equal_kafkas_tools(
    kafka_broker, make_topic, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("sized", partitions=2)
    sized_topic(bootstrap, topic)
    answer = operator.get("/api/clusters/local/internals/")
    assert answer.status_code == 200, answer.content
    ours = answer.json()
    theirs = features_match(ours, bootstrap)
    quorum_match(ours, bootstrap)
    assert [b["fenced"] for b in ours["brokers"]["brokers"]] == [False]
    assert ours["brokers"]["brokers"][0]["port"] == kafka_broker.port
    log_dirs_match(ours, bootstrap, topic)
    page = operator.get("/clusters/local/internals/").content.decode()
    assert theirs["metadata.version"][2] in page and 'id="log-dirs"' in page


def test_partitions_of_names_each_topics_partitions_and_leaves_out_unknown_ones(
    kafka_broker, make_topic
) -> None:
    from dashboard.kafka.internals import partitions_of

    three, one = make_topic("three", partitions=3), make_topic("one", partitions=1)
    found = partitions_of(cluster="local", topics=[three, one, "no-such-topic-here"])
    assert found == {three: (0, 1, 2), one: (0,)}
