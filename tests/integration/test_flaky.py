"""A flaky cluster: a hung broker (SIGSTOP) and a restarted one never keep the dashboard down."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from django.test import override_settings

from dashboard.kafka.config import ClusterConfig
from dashboard.lag import sampler as sampler_module
from dashboard.lag.models import SampleRound
from dashboard.lag.sampler import Sampler
from devtools.broker import LocalBroker
from tests.helpers import CACHE_DIR, clusters_for, unique
from tests.integration.test_tail import Tail, produce, run

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    "/api/clusters/flaky/",
    "/api/clusters/flaky/topics/",
    "/api/clusters/flaky/groups/",
    "/clusters/flaky/topics/",
]


@pytest.fixture
def flaky(tmp_path: Path, kafka_broker: LocalBroker) -> Iterator[LocalBroker]:
    """A second broker of our own, configured as cluster `flaky`, to hang and restart."""
    broker = LocalBroker(cache_dir=CACHE_DIR, data_dir=tmp_path / "flaky")
    broker.start()
    config = ClusterConfig(name="flaky", bootstrap_servers=broker.bootstrap_servers)
    clusters = clusters_for(kafka_broker.bootstrap_servers, flaky=config)
    try:
        with override_settings(KAFKAVIEW_CLUSTERS=clusters, KAFKAVIEW_REQUEST_TIMEOUT=1.5):
            yield broker
    finally:
        if broker.process is not None and broker.process.poll() is None:
            os.kill(broker.process.pid, signal.SIGCONT)
        broker.stop()


def statuses(client: Any) -> list[int]:
    return [client.get(path).status_code for path in PAGES]


def until_all_ok(client: Any, *, timeout: float) -> list[int]:
    """Poll the pages until every one answers 200 (the bound only stops a hung test)."""
    deadline = time.monotonic() + timeout
    codes = statuses(client)
    while codes != [200] * len(PAGES) and time.monotonic() < deadline:
        time.sleep(0.5)
        codes = statuses(client)
    return codes


def make_topic_on(broker: LocalBroker, partitions: int = 1) -> str:
    name = unique("flaky")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=15)
    return name


def test_a_hung_broker_is_503_and_pages_come_back_when_it_answers(
    flaky: LocalBroker, viewer: Any
) -> None:
    make_topic_on(flaky)
    assert statuses(viewer) == [200] * len(PAGES)
    assert flaky.process is not None
    os.kill(flaky.process.pid, signal.SIGSTOP)
    try:
        down = statuses(viewer)
    finally:
        os.kill(flaky.process.pid, signal.SIGCONT)
    assert down == [503] * len(PAGES)
    assert until_all_ok(viewer, timeout=30) == [200] * len(PAGES)


def test_a_restarted_broker_on_its_data_brings_the_pages_back(
    flaky: LocalBroker, viewer: Any
) -> None:
    make_topic_on(flaky)
    assert statuses(viewer) == [200] * len(PAGES)
    assert flaky.process is not None
    flaky.process.kill()  # no clean shutdown, as a crash
    flaky.process.wait()
    assert statuses(viewer) == [503] * len(PAGES)
    flaky.start()
    assert until_all_ok(viewer, timeout=90) == [200] * len(PAGES)


def test_a_tail_reports_a_hung_cluster_and_resumes_with_nothing_lost(flaky: LocalBroker) -> None:
    topic = make_topic_on(flaky)
    assert flaky.process is not None
    pid = flaky.process.pid

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        tail = Tail(topic, cluster="flaky")
        await tail.open()
        await tail.start()
        first = [(f"k{i}".encode(), b"before", 0) for i in range(5)]
        await asyncio.to_thread(produce, flaky.bootstrap_servers, topic, first)
        # Bounds here only stop a hung test: on a loaded machine (busy run 3 had two suites
        # and a CPU burner on two cores) the first five took longer than collect's 15 s.
        await tail.collect(5, timeout=90)
        os.kill(pid, signal.SIGSTOP)
        try:
            # An idle topic and a hung broker look alike; the tail's probe tells them apart.
            stats = await tail.next_of("stats", timeout=5)
            deadline = time.monotonic() + 30
            while stats["state"] != "unavailable" and time.monotonic() < deadline:
                stats = await tail.next_of("stats", timeout=5)
        finally:
            os.kill(pid, signal.SIGCONT)
        then = [(f"k{i}".encode(), b"after", 0) for i in range(5, 10)]
        await asyncio.to_thread(produce, flaky.bootstrap_servers, topic, then)
        records = await tail.collect(10, timeout=90)
        back = await tail.next_of("stats", timeout=5)
        while back["state"] != "running":
            back = await tail.next_of("stats", timeout=5)
        await tail.close()
        return stats, back, records

    stats, back, records = run(scenario)
    assert stats["state"] == "unavailable" and stats["error"]
    assert back["state"] == "running" and back["error"] is None
    assert [r["offset"] for r in records] == list(range(10))  # each once, in order
    assert [r["key"]["text"] for r in records] == [f"k{i}" for i in range(10)]


def test_a_sampler_round_that_raises_is_recorded_and_the_sampler_goes_on(
    kafka_broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = Sampler(cluster="local", interval=1.0, window=3)
    real = sampler_module.cluster_sample
    calls = {"n": 0}

    def once_broken(*, cluster: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in a round")
        return real(cluster=cluster)

    monkeypatch.setattr(sampler_module, "cluster_sample", once_broken)
    broken = sampler.round()
    fine = sampler.round()
    assert not broken.ok and "a bug in a round" in broken.error
    assert fine.ok
    assert sampler.errors == 1
    stored = SampleRound.objects.get(cluster="local", at=broken.at)
    assert not stored.ok and "internal error" in stored.error
