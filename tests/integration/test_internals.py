"""The internals page against Kafka's own tools: kafka-features, kafka-metadata-quorum,
kafka-log-dirs (real broker)."""

from __future__ import annotations

import json

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


def test_features_quorum_brokers_and_log_dirs_equal_kafkas_tools(
    kafka_broker, make_topic, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("sized", partitions=2)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(200):
        producer.produce(topic, value=b"x" * 500, partition=i % 2)
    assert producer.flush(15) == 0
    answer = operator.get("/api/clusters/local/internals/")
    assert answer.status_code == 200, answer.content
    ours = answer.json()

    # kafka-features describe: "Feature: n  SupportedMinVersion: a  SupportedMaxVersion: b
    # FinalizedVersionLevel: c  Epoch: e" a line.
    theirs = {}
    for line in tool(bootstrap, "features", "describe").splitlines():
        cells = line.split()
        if cells[:1] == ["Feature:"]:
            theirs[cells[1]] = (cells[3], cells[5], cells[7])
    node = str(ours["brokers"]["brokers"][0]["id"])  # the one broker of the test
    mine = {
        f["name"]: (f["supported"][node]["min"], f["supported"][node]["max"], f["finalized"])
        for f in ours["features"]["features"]
    }
    assert mine == theirs
    assert ours["features"]["metadata_version"] == theirs["metadata.version"][2]

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
    printed = tool(bootstrap, "metadata-quorum", "describe", "--replication").splitlines()
    header, *table = [line.split() for line in printed if line.strip()]
    replication = [dict(zip(header, c, strict=False)) for c in table]
    assert {(r["NodeId"], r["Status"].lower()) for r in replication} == {
        (str(r["node"]), r["role"]) for r in quorum["replicas"]
    }

    assert [b["fenced"] for b in ours["brokers"]["brokers"]] == [False]
    assert ours["brokers"]["brokers"][0]["port"] == kafka_broker.port

    out = tool(bootstrap, "log-dirs", "--describe").splitlines()
    described = json.loads(next(line for line in out if line.startswith("{")))
    (broker,) = described["brokers"]
    (their_dir,) = broker["logDirs"]
    (our_dir,) = ours["log_dirs"]["dirs"]
    assert our_dir["path"] == their_dir["logDir"] and our_dir["error"] is None
    sizes = {p["partition"]: p["size"] for p in their_dir["partitions"]}
    ours_topic = {t["topic"]: t["bytes"] for t in our_dir["topics"]}
    assert ours_topic[topic] == sizes[f"{topic}-0"] + sizes[f"{topic}-1"] > 100_000

    page = operator.get("/clusters/local/internals/").content.decode()
    assert theirs["metadata.version"][2] in page and 'id="log-dirs"' in page
