"""Tiered storage (KIP-405) on a broker of our own with Kafka's LocalTieredStorage plugin: the
topic page's earliest local, latest tiered and log start offsets equal kafka-get-offsets
--time -4/-5/-2, and its local size equals kafka-log-dirs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from django.test import override_settings

from dashboard.kafka.config import ClusterConfig
from devtools.broker import LocalBroker, tiered_properties
from tests.helpers import CACHE_DIR, clusters_for, unique, until
from tests.integration.test_internals import tool

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    data = tmp_path_factory.mktemp("tiered")
    broker = LocalBroker(
        data_dir=data / "broker",
        cache_dir=CACHE_DIR,
        extra_properties=tiered_properties(data / "remote"),
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def on_tiered(tiered: LocalBroker, kafka_broker: Any) -> Iterator[LocalBroker]:
    config = ClusterConfig(name="tiered", bootstrap_servers=tiered.bootstrap_servers)
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, tiered=config)
    ):
        yield tiered


def offsets(bootstrap: str, topic: str, time_spec: str) -> dict[int, int]:
    """kafka-get-offsets: "topic:partition:offset" lines."""
    out = tool(bootstrap, "get-offsets", "--topic", topic, "--time", time_spec)
    return {
        int(line.rsplit(":", 2)[1]): int(line.rsplit(":", 2)[2])
        for line in out.splitlines()
        if line.startswith(f"{topic}:")
    }


def test_local_and_remote_offsets_and_the_local_size_equal_kafkas_tools(
    on_tiered: LocalBroker, operator
) -> None:
    bootstrap = on_tiered.bootstrap_servers
    topic = unique("tiered")
    configs = ("remote.storage.enable=true", "segment.bytes=1048576", "local.retention.bytes=1")
    tool(
        bootstrap,
        "topics",
        "--create",
        "--topic",
        topic,
        "--partitions",
        "2",
        *(a for c in configs for a in ("--config", c)),
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(40_000):  # ~2 MiB a partition: closed segments to copy, then delete
        producer.produce(topic, value=b"x" * 100, partition=i % 2)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0

    # Wait until every closed segment is copied and deleted locally: then only the active
    # segment is on disk and nothing moves until it rolls (the broker's own threads).
    def settled() -> dict[str, dict[int, int]]:
        return {s: offsets(bootstrap, topic, s) for s in ("-2", "-4", "-5")}

    def tiered_all() -> dict[str, dict[int, int]] | None:
        found = settled()
        done = all(local > 0 and local == found["-5"][p] + 1 for p, local in found["-4"].items())
        return found if done else None

    theirs = until(tiered_all, timeout=90, step=1)
    shown = operator.get(f"/api/clusters/tiered/topics/{topic}/").json()
    ours = {t["partition"]: t for t in shown["tiering"]}
    assert settled() == theirs  # nothing moved while we read
    described = json.loads(
        next(
            line
            for line in tool(bootstrap, "log-dirs", "--describe").splitlines()
            if line.startswith("{")
        )
    )
    sizes = {
        int(p["partition"].rsplit("-", 1)[1]): p["size"]
        for d in described["brokers"][0]["logDirs"]
        for p in d["partitions"]
        if p["partition"].rsplit("-", 1)[0] == topic
    }
    assert {
        p: (t["log_start"], t["local_start"], t["latest_tiered"], t["local_bytes"])
        for p, t in ours.items()
    } == {p: (theirs["-2"][p], theirs["-4"][p], theirs["-5"][p], sizes[p]) for p in (0, 1)}
    for t in ours.values():
        assert t["remote_only"] == t["local_start"] - t["log_start"] > 10_000
    page = operator.get(f"/clusters/tiered/topics/{topic}/").content.decode()
    assert 'id="tiering"' in page and "Offsets only in remote storage" in page
