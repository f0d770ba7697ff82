"""Topics, groups and lag: our JSON against Kafka's own kafka-consumer-groups on a real scenario."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from devtools.broker import LocalBroker, cli_run
from tests.helpers import CACHE_DIR, unique

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def produce(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, n in counts.items():
        for i in range(n):
            producer.produce(topic, key=f"k{i}", value=f"v{i}", partition=partition)
    producer.flush(15)


def commit(bootstrap: str, group: str, offsets: list[tuple[str, int, int]]) -> None:
    """Commit offsets for a group without joining it (the group stays Empty)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for t, p, o in offsets], asynchronous=False
        )
    finally:
        consumer.close()


def consume_until(consumer: Consumer, total: int) -> int:
    seen = 0
    for _ in range(200):
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            seen += 1
        if seen >= total:
            break
    return seen


@dataclass
class Scenario:
    topic_a: str
    topic_b: str
    active: str
    partial: str
    stopped: str
    active_consumer: Consumer


@pytest.fixture
def scenario(kafka_broker: LocalBroker, admin: AdminClient):
    bootstrap = kafka_broker.bootstrap_servers
    topic_a, topic_b = unique("orders"), unique("payments")
    futures = admin.create_topics(
        [
            NewTopic(topic_a, 3, 1, config={"retention.ms": "3600000"}),
            NewTopic(topic_b, 2, 1),
        ]
    )
    for f in futures.values():
        f.result(timeout=15)
    # topic_a partition 2 stays empty.
    produce(bootstrap, topic_a, {0: 12, 1: 7})
    produce(bootstrap, topic_b, {0: 4, 1: 9})

    active, partial, stopped = unique("on-two-topics"), unique("partial"), unique("stopped")
    # An active group on two topics that has read and committed everything it read.
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": active,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic_a, topic_b])
    assert consume_until(consumer, 12 + 7 + 4 + 9) == 32
    consumer.commit(asynchronous=False)
    # A group with commits on only some partitions of one topic.
    commit(bootstrap, partial, [(topic_a, 0, 5)])
    # A group that consumed, committed and stopped; then more messages arrive: lag.
    quitter = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": stopped, "auto.offset.reset": "earliest"}
    )
    quitter.subscribe([topic_b])
    assert consume_until(quitter, 13) == 13
    quitter.commit(asynchronous=False)
    quitter.close()
    produce(bootstrap, topic_b, {0: 3, 1: 20})
    yield Scenario(topic_a, topic_b, active, partial, stopped, consumer)
    consumer.close()


def kafka_describe(bootstrap: str) -> dict[tuple[str, str, int], tuple[str, str, str]]:
    """kafka-consumer-groups --describe --all-groups: {(group, topic, p): (current, end, lag)}."""
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="consumer-groups",
        args=["--bootstrap-server", bootstrap, "--describe", "--all-groups"],
    )
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] != "GROUP" and cols[2].isdigit():
            rows[(cols[0], cols[1], int(cols[2]))] = (cols[3], cols[4], cols[5])
    return rows


def as_cli(value: int | None) -> str:
    return "-" if value is None else str(value)


def test_group_lag_equals_kafka_consumer_groups(
    logged_in, kafka_broker, scenario: Scenario
) -> None:
    groups = [scenario.active, scenario.partial, scenario.stopped]
    ours = {g: logged_in.get(f"/api/clusters/local/groups/{g}/").json() for g in groups}
    theirs = kafka_describe(kafka_broker.bootstrap_servers)

    compared = 0
    for g in groups:
        ours_rows = {(p["topic"], p["partition"]): p for p in ours[g]["partitions"]}
        their_rows = {(t, p): v for (grp, t, p), v in theirs.items() if grp == g}
        assert their_rows, f"Kafka's tool shows nothing for {g}"
        for key, (current, end, lag) in their_rows.items():
            mine = ours_rows[key]
            assert (
                as_cli(mine["committed_offset"]),
                as_cli(mine["log_end_offset"]),
                as_cli(mine["lag"]),
            ) == (current, end, lag), (g, key)
            compared += 1
        # Rows only we show are partitions of the group's topics with nothing committed.
        for key in set(ours_rows) - set(their_rows):
            assert ours_rows[key]["committed_offset"] is None
            assert ours_rows[key]["lag"] is None
        their_lag = sum(int(v[2]) for v in their_rows.values() if v[2] != "-")
        assert ours[g]["total_lag"] == their_lag
    assert compared >= 3 + 2 + 1 + 2

    # The scenario's shape, stated once more in our own words.
    active = ours[scenario.active]
    assert active["state"] == "stable"
    assert active["topics"] == sorted([scenario.topic_a, scenario.topic_b])
    owned = sorted(tuple(tp) for m in active["members"] for tp in m["assignment"])
    assert len(owned) == 5
    assert all(p["owner_member_id"] for p in active["partitions"])
    partial = ours[scenario.partial]
    assert partial["state"] == "empty"
    assert partial["partitions_without_commit"] == 2
    no_commit = [p for p in partial["partitions"] if p["committed_offset"] is None]
    assert {p["partition"] for p in no_commit} == {1, 2}
    assert {p["partition"]: p["lag_if_earliest"] for p in no_commit} == {1: 7, 2: 0}
    stopped = ours[scenario.stopped]
    assert stopped["state"] == "empty"
    assert stopped["total_lag"] == 23
    assert stopped["members"] == []


def test_group_list_agrees_with_the_group_pages(logged_in, scenario: Scenario) -> None:
    listing = logged_in.get("/api/clusters/local/groups/").json()["groups"]
    by_name = {g["group"]: g for g in listing}
    for name in [scenario.active, scenario.partial, scenario.stopped]:
        detail = logged_in.get(f"/api/clusters/local/groups/{name}/").json()
        row = by_name[name]
        assert row["state"] == detail["state"]
        assert row["members"] == len(detail["members"])
        assert row["total_lag"] == detail["total_lag"]
        assert row["max_lag"] == detail["max_lag"]
        assert row["topics"] == detail["topics"]
    assert by_name[scenario.stopped]["max_lag"] == 20
    # Filter and sort apply to JSON too.
    filtered = logged_in.get(
        "/api/clusters/local/groups/", {"q": scenario.stopped[-10:], "sort": "total_lag"}
    ).json()["groups"]
    assert [g["group"] for g in filtered] == [scenario.stopped]
    by_lag = logged_in.get("/api/clusters/local/groups/", {"sort": "total_lag", "dir": "desc"})
    lags = [g["total_lag"] for g in by_lag.json()["groups"]]
    assert lags == sorted(lags, reverse=True)


def watermarks(bootstrap: str, topic: str, partitions: int) -> list[tuple[int, int]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("wm")})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def test_topic_list_and_detail_match_the_broker(
    logged_in, kafka_broker, scenario: Scenario
) -> None:
    marks = watermarks(kafka_broker.bootstrap_servers, scenario.topic_a, 3)
    listing = logged_in.get("/api/clusters/local/topics/").json()["topics"]
    row = next(t for t in listing if t["name"] == scenario.topic_a)
    assert row == {
        "name": scenario.topic_a,
        "internal": False,
        "partitions": 3,
        "replication_factor": 1,
        "messages": sum(h - lo for lo, h in marks),
        "under_replicated": 0,
    }
    assert not any(t["internal"] for t in listing)
    with_internal = logged_in.get("/api/clusters/local/topics/", {"internal": "1"}).json()
    assert "__consumer_offsets" in {t["name"] for t in with_internal["topics"]}

    detail = logged_in.get(f"/api/clusters/local/topics/{scenario.topic_a}/").json()
    assert [(p["low"], p["high"]) for p in detail["partitions"]] == marks
    assert detail["partitions"][2]["messages"] == 0
    assert all(
        p["leader"] == 1 and p["isr"] == [1] and p["out_of_sync"] == []
        for p in detail["partitions"]
    )
    configs = {c["name"]: c for c in detail["configs"]}
    assert configs["retention.ms"]["value"] == "3600000"
    assert configs["retention.ms"]["is_default"] is False
    assert configs["cleanup.policy"]["is_default"] is True
    on_topic = {g["group"]: g for g in detail["groups"]}
    assert set(on_topic) >= {scenario.active, scenario.partial}
    assert scenario.stopped not in on_topic
    assert on_topic[scenario.partial]["total_lag"] == 12 - 5
    assert on_topic[scenario.active]["total_lag"] == 0


def test_pages_render_the_scenario(logged_in, scenario: Scenario) -> None:
    topic_page = logged_in.get(f"/clusters/local/topics/{scenario.topic_a}/")
    assert topic_page.status_code == 200
    assert scenario.partial in topic_page.content.decode()
    group_page = logged_in.get(f"/clusters/local/groups/{scenario.partial}/")
    html = group_page.content.decode()
    assert group_page.status_code == 200
    assert "auto.offset.reset" in html
    assert "earliest → 7" in html
    listing = logged_in.get("/clusters/local/groups/", {"sort": "total_lag", "dir": "desc"})
    assert scenario.stopped in listing.content.decode()
    topics = logged_in.get("/clusters/local/topics/", {"q": scenario.topic_b})
    html = topics.content.decode()
    assert scenario.topic_b in html
    assert scenario.topic_a not in html


def test_unknown_and_invalid_names(logged_in) -> None:
    missing = unique("missing")
    assert logged_in.get(f"/clusters/local/topics/{missing}/").status_code == 404
    api = logged_in.get(f"/api/clusters/local/topics/{missing}/")
    assert api.status_code == 404
    assert api.json()["error"]["type"] == "topic_not_found"
    assert missing in api.json()["error"]["message"]
    bad = logged_in.get("/api/clusters/local/topics/bad%20name%3Cscript%3E/")
    assert bad.status_code == 400
    assert "not a valid topic name" in bad.json()["error"]["message"]
    page = logged_in.get("/clusters/local/topics/bad%20name%3Cscript%3E/")
    assert page.status_code == 400
    assert b"<script>" not in page.content
    group = logged_in.get(f"/api/clusters/local/groups/{missing}/")
    assert group.status_code == 404
    assert group.json()["error"]["type"] == "group_not_found"


def test_group_ids_with_odd_characters(logged_in, kafka_broker, make_topic) -> None:
    topic = make_topic("odd")
    produce(kafka_broker.bootstrap_servers, topic, {0: 3})
    for name in [
        f"a/b {unique('x')}",
        f"<script>alert(1)</script>{unique('y')}",
        f"☃-{unique('z')}",
    ]:
        commit(kafka_broker.bootstrap_servers, name, [(topic, 0, 1)])
        quoted = urllib.parse.quote(name, safe="")
        api = logged_in.get(f"/api/clusters/local/groups/{quoted}/")
        assert api.status_code == 200, name
        assert api.json()["group"] == name
        assert api.json()["total_lag"] == 2
        page = logged_in.get(f"/clusters/local/groups/{quoted}/")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.content.decode()


def test_a_rebalancing_group_shows_its_state(logged_in, kafka_broker, make_topic) -> None:
    topic = make_topic("rebalance", partitions=2)
    group = unique("rebalancing")
    conf = {
        "bootstrap.servers": kafka_broker.bootstrap_servers,
        "group.id": group,
        "session.timeout.ms": 6000,
        "max.poll.interval.ms": 20000,
    }
    first = Consumer(conf)
    first.subscribe([topic])
    for _ in range(50):
        first.poll(0.2)
        if first.assignment():
            break
    assert first.assignment()
    # A second member joins while the first stops polling: the group must wait for the
    # first to rejoin, and sits in a rebalancing state meanwhile.
    second = Consumer(conf)
    second.subscribe([topic])
    stop = threading.Event()

    def keep_polling() -> None:
        while not stop.is_set():
            second.poll(0.2)

    poller = threading.Thread(target=keep_polling)
    poller.start()
    try:
        state, page = None, None
        for _ in range(40):
            data = logged_in.get(f"/api/clusters/local/groups/{group}/").json()
            state = data["state"]
            if data["rebalancing"]:
                page = logged_in.get(f"/clusters/local/groups/{group}/")
                break
            time.sleep(0.2)
        assert state in {"preparing_rebalancing", "completing_rebalancing"}
        assert page is not None
        assert page.status_code == 200
        assert "The group is rebalancing" in page.content.decode()
    finally:
        stop.set()
        poller.join()
        second.close()
        first.close()


def test_a_wide_group_page_reads_only_the_partitions_it_shows(
    logged_in, kafka_broker, make_topic
) -> None:
    """250 lagging partitions: page 1 fetches the message at 200 committed offsets, not 250;
    the totals and the JSON still cover every partition."""
    from dashboard.kafka.client.counters import requests_counted

    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("wide", partitions=250)
    produce(bootstrap, topic, {p: 2 for p in range(250)})
    group = unique("wide-group")
    commit(bootstrap, group, [(topic, p, 1) for p in range(250)])

    def fetches() -> int:
        return requests_counted().get(("local", "Fetch"), 0)

    before = fetches()
    first = logged_in.get(f"/clusters/local/groups/{group}/")
    assert first.status_code == 200
    assert fetches() - before == 200  # one message looked up a partition shown
    body = first.content.decode()
    assert body.count(f'<td><a href="/clusters/local/topics/{topic}/">') == 200  # rows shown
    assert 'data-testid="partitions-paged"' in body and "page 1 of 2" in body
    assert 'data-testid="total-lag">250<' in body  # the totals cover all 250
    before = fetches()
    second = logged_in.get(f"/clusters/local/groups/{group}/?page=2")
    assert fetches() - before == 50 and "page 2 of 2" in second.content.decode()
    assert second.content.decode().count(f'<td><a href="/clusters/local/topics/{topic}/">') == 50
    answer = logged_in.get(f"/api/clusters/local/groups/{group}/").json()
    assert len(answer["partitions"]) == 250 and answer["total_lag"] == 250
    assert all(p["lag_seconds"] is not None for p in answer["partitions"])
    assert logged_in.get(f"/clusters/local/groups/{group}/?page=x").status_code == 400
    page = logged_in.get(f"/clusters/local/topics/{topic}/?page=2").content.decode()
    assert "page 2 of 2" in page and page.count("<tr>") < 80  # 50 partition rows, not 250
    assert len(logged_in.get(f"/api/clusters/local/topics/{topic}/").json()["partitions"]) == 250


def test_a_wide_topic_reads_every_commit_and_answers_the_same(
    scenario: Scenario, monkeypatch
) -> None:
    # Past TOPIC_FILTER_PARTITIONS_MAX partitions the topic page reads whole groups'
    # commits (the broker answers each partition asked for): both ways, one answer.
    from dashboard.kafka.groups import lag

    def rows() -> dict[str, tuple[int, int, int, tuple[str, ...]]]:
        found = lag.topic_groups(cluster="local", topic=scenario.topic_a)
        return {
            g.group: (g.total_lag, g.partitions, g.partitions_without_commit, g.topics)
            for g in found
        }

    filtered = rows()
    monkeypatch.setattr(lag, "TOPIC_FILTER_PARTITIONS_MAX", 1)
    assert rows() == filtered
    assert filtered[scenario.partial] == (12 - 5, 1, 0, (scenario.topic_a,))
    assert filtered[scenario.active][0] == 0
    assert scenario.stopped not in filtered
