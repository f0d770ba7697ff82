"""The lag sampler on a real broker: verdicts, lag seconds, events, metrics, retention, outages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings as dj_settings
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from dashboard.kafka.client.clients import admin_clients_forget
from dashboard.kafka.config import ClusterConfig
from dashboard.kafka.groups.commitlog import commit_parse
from dashboard.lag import store
from dashboard.lag.codec import fold_group
from dashboard.lag.conf import Tier
from dashboard.lag.history import group_history, topic_history
from dashboard.lag.models import GroupEvent, HistoryChunk, SampleRound
from dashboard.lag.sampler import Sampler
from devtools.broker import LocalBroker, free_port
from tests.helpers import CACHE_DIR, SteppedClock, clusters_for, unique

pytestmark = pytest.mark.django_db

INTERVAL = 0.3
WINDOW = 4  # STOP after 0.9 s without a commit


def produce(bootstrap: str, topic: str, count: int, *, timestamp_ms: int | None = None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(count):
        kwargs: dict[str, Any] = {"timestamp": timestamp_ms} if timestamp_ms is not None else {}
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), **kwargs)
    assert producer.flush(10) == 0


class Committer:
    """Commits chosen offsets for a group without joining it (as a stand-alone consumer)."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        )

    def commit(self, topic: str, offset: int, partition: int = 0) -> None:
        self.consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)

    def close(self) -> None:
        self.consumer.close()


def sampler_for(cluster: str = "local") -> Sampler:
    sampler = Sampler(cluster=cluster, interval=INTERVAL, window=WINDOW)
    sampler.start()
    return sampler


def wait_seen(sampler: Sampler, group: str, topic: str, offset: int, commits: int = 1) -> None:
    """Wait until the commit reader has read this commit from __consumer_offsets."""

    def seen() -> bool:
        state = sampler.watcher.snapshot().get((group, topic, 0))
        return state is not None and state.offset == offset and state.commits >= commits

    assert sampler.watcher.wait_for(seen, timeout=10), f"commit {group} {offset} not read"


def test_commit_records_of_the_real_broker_are_parsed_with_their_time(
    kafka_broker, make_topic
) -> None:
    topic, group = make_topic("commits"), unique("g-commits")
    produce(kafka_broker.bootstrap_servers, topic, 5)
    sampler = sampler_for()
    before = time.time()
    committer = Committer(kafka_broker.bootstrap_servers, group)
    try:
        committer.commit(topic, 3)
        wait_seen(sampler, group, topic, 3)
        state = sampler.watcher.snapshot()[(group, topic, 0)]
        assert state.offset == 3
        assert state.commit_timestamp_ms is not None
        assert before - 1 <= state.commit_timestamp_ms / 1000 <= time.time() + 1
        committer.commit(topic, 3)
        wait_seen(sampler, group, topic, 3, commits=2)
    finally:
        committer.close()
        sampler.stop()
    # Other record types (group metadata) and garbage are skipped, not fatal.
    assert commit_parse(b"\x00\x02\x00\x01g", b"\x00\x03") is None
    assert commit_parse(b"\x00\x01\x00", b"") is None


def test_sampler_marks_stopped_stalled_falling_behind_rewound_and_caught_up_groups(
    kafka_broker, make_topic
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    names = ["ok", "stop", "stall", "warn", "rewind"]
    topics = {n: make_topic(f"st-{n}") for n in names}
    groups = {n: unique(f"g-{n}") for n in names}
    for n in names:
        produce(bootstrap, topics[n], 100)
    committers = {n: Committer(bootstrap, groups[n]) for n in names}
    sampler = sampler_for()
    try:
        committers["stop"].commit(topics["stop"], 10)  # once, then never again
        wait_seen(sampler, groups["stop"], topics["stop"], 10)
        warn_offset, rewind_offset = 0, 90
        results = []
        for i in range(8):
            committers["ok"].commit(topics["ok"], 100)  # caught up
            committers["stall"].commit(topics["stall"], 20)  # same offset, again and again
            produce(bootstrap, topics["warn"], 10)  # 10 produced, 2 consumed a round
            warn_offset += 2
            committers["warn"].commit(topics["warn"], warn_offset)
            rewind_offset -= 5  # goes back every round
            committers["rewind"].commit(topics["rewind"], rewind_offset)
            wait_seen(sampler, groups["stall"], topics["stall"], 20, commits=i + 1)
            wait_seen(sampler, groups["rewind"], topics["rewind"], rewind_offset)
            wait_seen(sampler, groups["warn"], topics["warn"], warn_offset)
            results.append(sampler.round())
            time.sleep(INTERVAL)
        final = results[-1].statuses
        assert {n: final[groups[n]] for n in names} == {
            "ok": "OK",
            "stop": "STOP",
            "stall": "STALL",
            "warn": "WARN",
            "rewind": "REWIND",
        }
        # The stored samples carry the same verdicts and the lag Kafka reports.
        stored = store.latest_group(cluster="local", group=groups["stop"])
        assert stored is not None
        (p,) = stored.partitions
        assert (p.committed, p.end_offset, p.lag, p.status) == (10, 100, 90, "STOP")
        assert (stored.status, stored.total_lag) == ("STOP", 90)
        # And read back from the compact chunks, every round equals what the sampler judged.
        since = datetime.now(UTC) - timedelta(minutes=5)
        rounds = store.group_history_rounds(cluster="local", group=groups["stop"], since=since)
        assert rounds[-1] == stored and len(rounds) == len(results)
        # A change of verdict is an event of the group.
        texts = list(GroupEvent.objects.filter(group=groups["stop"]).values_list("text", flat=True))
        # (It may pass through STALL while its last commit is younger than the window.)
        assert any(t.startswith("status OK → ") for t in texts)
        assert any(t.startswith("status ") and t.endswith(" → STOP") for t in texts)
    finally:
        for c in committers.values():
            c.close()
        sampler.stop()


def test_estimated_and_exact_lag_seconds_follow_the_produced_timestamps(
    kafka_broker, make_topic, viewer
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, group = make_topic("lagsec"), unique("g-lagsec")
    hour_ago = int((time.time() - 3600) * 1000)
    produce(bootstrap, topic, 5, timestamp_ms=hour_ago)  # offsets 0-4, an hour old
    committer = Committer(bootstrap, group)
    sampler = sampler_for()
    try:
        committer.commit(topic, 2)
        wait_seen(sampler, group, topic, 2)
        sampler.round()
        time.sleep(0.5)
        produce(bootstrap, topic, 5)  # offsets 5-9, now
        committer.commit(topic, 6)
        wait_seen(sampler, group, topic, 6)
        sampler.round()
        body = viewer.get(f"/api/clusters/local/groups/{quote(group, safe='')}/").json()
    finally:
        committer.close()
        sampler.stop()
    (row,) = body["partitions"]
    assert row["committed_offset"] == 6 and row["lag"] == 4
    # Exact: the message at offset 6 was produced a moment ago.
    produced_at = datetime.fromisoformat(row["first_unconsumed_timestamp"])
    assert abs(produced_at.timestamp() - time.time()) < 10
    assert 0 <= row["lag_seconds"] < 10
    # Spelled as in the tail's records (the producer set the time).
    assert row["timestamp_type"] == "create_time"
    # The estimate sits between the two samples the end offset moved between.
    assert 0 <= row["lag_seconds_estimate"] < 10
    # Before, at offset 2, the message was an hour old: exact from the record itself.
    committer = Committer(bootstrap, group)
    committer.commit(topic, 2)
    committer.close()
    body = viewer.get(f"/api/clusters/local/groups/{quote(group, safe='')}/").json()
    (row,) = body["partitions"]
    assert (
        row["first_unconsumed_timestamp"]
        == datetime.fromtimestamp(hour_ago / 1000, UTC).isoformat()
    )
    assert 3590 < row["lag_seconds"] < 3700
    # The page shows it in words.
    page = viewer.get(f"/clusters/local/groups/{quote(group, safe='')}/").content.decode()
    assert "1 h 0 min" in page


def metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return {}


def test_metrics_agree_with_the_json_api_and_need_a_token_or_login(
    kafka_broker, make_topic, client, viewer, settings
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic, group = make_topic("metrics", partitions=2), unique("g-metrics")
    produce(bootstrap, topic, 40)
    committer = Committer(bootstrap, group)
    sampler = sampler_for()
    try:
        committer.commit(topic, 3, partition=0)
        committer.commit(topic, 1, partition=1)
        for _ in range(2):
            sampler.round()
            time.sleep(INTERVAL)
    finally:
        committer.close()
        sampler.stop()
    body = viewer.get(f"/api/clusters/local/groups/{quote(group, safe='')}/").json()
    response = viewer.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    lags = metric_values(text, "kafkaview_consumergroup_lag")
    committed = metric_values(text, "kafkaview_consumergroup_committed_offset")
    for row in body["partitions"]:
        labels = (
            ("cluster", "local"),
            ("group", group),
            ("partition", str(row["partition"])),
            ("topic", topic),
            ("type", "classic"),
        )
        assert lags[labels] == row["lag"]
        assert committed[labels] == row["committed_offset"]
    totals = metric_values(text, "kafkaview_consumergroup_lag_total")
    assert (
        totals[(("cluster", "local"), ("group", group), ("type", "classic"))] == body["total_lag"]
    )
    statuses = metric_values(text, "kafkaview_consumergroup_status")
    current = [dict(k)["status"] for k, v in statuses.items() if dict(k)["group"] == group and v]
    assert current == [body["status"]]
    ends = metric_values(text, "kafkaview_partition_end_offset")
    partitions = {row["partition"]: row["log_end_offset"] for row in body["partitions"]}
    for p, end in partitions.items():
        assert ends[(("cluster", "local"), ("partition", str(p)), ("topic", topic))] == end
    assert metric_values(text, "kafkaview_sampler_up")[(("cluster", "local"),)] == 1

    # Prometheus: a bearer token from the settings, or nothing.
    client.logout()
    settings.KAFKAVIEW_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200 and "kafkaview_consumergroup_lag" in ok.content.decode()
    settings.KAFKAVIEW_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_members_joining_and_leaving_are_events(kafka_broker, make_topic, viewer) -> None:
    topic, group = make_topic("members", partitions=2), unique("g-members")
    sampler = sampler_for()
    member = Consumer(
        {
            "bootstrap.servers": kafka_broker.bootstrap_servers,
            "group.id": group,
            "client.id": "member-one",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + 20
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)
        assert len(member.assignment()) == 2
        member.commit(
            offsets=[TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)],
            asynchronous=False,
        )
        sampler.round()
        member.close()
        member = None  # type: ignore[assignment]
        sampler.round()
    finally:
        if member is not None:
            member.close()
        sampler.stop()
    kinds = list(
        GroupEvent.objects.filter(group=group).order_by("at", "id").values_list("kind", "text")
    )
    assert kinds[0] == ("state", "first seen by the sampler: stable, 1 member(s)")
    assert ("state", "state stable → empty") in kinds
    left = [t for k, t in kinds if k == "left"]
    assert len(left) == 1 and left[0].startswith("member left: member-one (")
    assert (
        "moved",
        f"partitions moved: {topic} 0,1 → no member (unassigned)",
    ) in kinds
    page = viewer.get(f"/clusters/local/groups/{quote(group, safe='')}/").content.decode()
    assert "member left: member-one" in page


def test_old_history_is_folded_into_tiers_then_pruned(kafka_broker, make_topic) -> None:
    topic, group = make_topic("tiers"), unique("g-tiers")
    bootstrap = kafka_broker.bootstrap_servers
    committer = Committer(bootstrap, group)
    sampler = Sampler(cluster="local", interval=INTERVAL, window=WINDOW, keep=timedelta(days=90))
    tiers = [Tier(1, 60, timedelta(days=7)), Tier(2, 600, timedelta(days=30))]
    sampler.tiers = tiers
    for i in range(6):  # no commit reader needed for this
        produce(bootstrap, topic, 5)
        committer.commit(topic, 3 * i + 1)
        sampler.round()
    committer.close()
    since = datetime.now(UTC) - timedelta(hours=1)
    raw = store.group_history_rounds(cluster="local", group=group, since=since)
    raw_ends = store.topic_ends_rounds(cluster="local", topic=topic, since=since)
    assert len(raw) == len(raw_ends) == 6
    # A failed round in the last bucket: that bucket must be a gap in the tier too.
    failed_at = store.dt(raw[-1].at // 60 * 60 + 0.0005)
    SampleRound.objects.create(cluster="local", at=failed_at, ok=False, error="test outage")

    def buckets(size: float) -> dict[float, list]:
        out: dict[float, list] = {}
        for r in raw:
            out.setdefault(r.at // size * size, []).append(r)
        return out

    # Past the raw keep: everything folds into 1-min buckets, nothing raw is left.
    later = datetime.now(UTC) + timedelta(days=1)
    assert store.fold(cluster="local", now=later, raw=timedelta(hours=6), tiers=tiers) > 0
    assert not HistoryChunk.objects.filter(cluster="local", tier=0).exists()
    assert not SampleRound.objects.filter(cluster="local", tier=0).exists()
    tier1 = store.group_history_rounds(cluster="local", group=group, since=since, tier=1)
    expected = [fold_group(rs, at) for at, rs in sorted(buckets(60).items())]
    assert tier1 == expected
    ends = store.topic_ends_rounds(cluster="local", topic=topic, since=since, tier=1)
    assert [e.at for e in ends] == [p.at for p in expected]
    assert ends[-1].ends == raw_ends[-1].ends
    # The chart of a week reads tier 1: the folded values, the failed bucket a gap.
    chart = group_history(cluster="local", group=group, minutes=10080)
    assert chart["tier"] == 1
    last_bucket = raw[-1].at // 60 * 60
    i = chart["times"].index(last_bucket)
    assert chart["ok"][i] is False and chart["total_lag"][i] is None
    for j, point in enumerate(expected[:-1]):
        k = chart["times"].index(point.at)
        assert chart["ok"][k] and chart["total_lag"][k] == point.total_lag, j

    # Past tier 1's keep: 10-min buckets of the 1-min ones, the same as folding the raw.
    much_later = datetime.now(UTC) + timedelta(days=8)
    store.fold(cluster="local", now=much_later, raw=timedelta(hours=6), tiers=tiers)
    tier2 = store.group_history_rounds(cluster="local", group=group, since=since, tier=2)
    assert tier2 == [fold_group(rs, at) for at, rs in sorted(buckets(600).items())]
    assert not SampleRound.objects.filter(cluster="local", tier=1).exists()
    # Past the last tier's keep: gone.
    far = datetime.now(UTC) + timedelta(days=40)
    assert store.prune(cluster="local", now=far, keep=timedelta(days=90), tiers=tiers) > 0
    assert not HistoryChunk.objects.filter(cluster="local", key=group).exists()
    assert not SampleRound.objects.filter(cluster="local").exists()


def test_the_sampler_keeps_raw_history_for_its_window_then_folds_it(
    kafka_broker, make_topic
) -> None:
    topic, group = make_topic("fold-live"), unique("g-fold-live")
    produce(kafka_broker.bootstrap_servers, topic, 3)
    committer = Committer(kafka_broker.bootstrap_servers, group)
    committer.commit(topic, 1)
    committer.close()
    # The rounds' times come from a stepped clock: however long a round takes on a busy
    # machine, the raw window is measured in the sampler's time, not the machine's.
    clock = SteppedClock()
    sampler = Sampler(
        cluster="local", interval=INTERVAL, window=WINDOW, raw=timedelta(0), clock=clock
    )
    for _ in range(3):
        sampler.round()
        clock.advance(INTERVAL)
    # raw=0 is raised to two status windows (what a restart reloads): nothing folds yet.
    sampler.prune()
    since = clock() - timedelta(minutes=5)
    assert len(store.group_history_rounds(cluster="local", group=group, since=since)) == 3
    clock.advance(2 * INTERVAL * WINDOW + 0.1)
    sampler.prune()
    assert store.group_history_rounds(cluster="local", group=group, since=since, tier=0) == []
    folded = store.group_history_rounds(cluster="local", group=group, since=since, tier=1)
    assert folded and folded[-1].partitions[0].committed == 1
    sampler.round()  # a new raw chunk starts; the folded one is untouched
    after = store.group_history_rounds(cluster="local", group=group, since=since, tier=1)
    assert after[: len(folded)] == folded and len(after) == len(folded) + 1


def test_a_broker_outage_is_a_gap_not_invented_samples(tmp_path) -> None:
    port = free_port()
    broker = LocalBroker(
        cache_dir=CACHE_DIR, data_dir=tmp_path / "kafka", port=port, controller_port=free_port()
    )
    broker.start()
    flaky = ClusterConfig(name="flaky", bootstrap_servers=broker.bootstrap_servers)
    clusters = clusters_for(dj_settings.KAFKAVIEW_CLUSTERS.by_name["local"].bootstrap_servers)
    clusters = type(clusters)(
        by_name={**clusters.by_name, "flaky": flaky}, default="local", source="environment"
    )
    group = unique("g-outage")
    with override_settings(KAFKAVIEW_CLUSTERS=clusters, KAFKAVIEW_REQUEST_TIMEOUT=1.5):
        admin_clients_forget()
        try:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
            admin.create_topics([NewTopic("outage", 1, 1)])["outage"].result(timeout=15)
            produce(broker.bootstrap_servers, "outage", 10)
            committer = Committer(broker.bootstrap_servers, group)
            committer.commit("outage", 4)
            committer.close()
            sampler = Sampler(cluster="flaky", interval=INTERVAL, window=WINDOW)
            first = sampler.round()
            broker.stop()
            down = sampler.round()
            again = sampler.round()
        finally:
            admin_clients_forget()
            broker.stop()
        history = group_history(cluster="flaky", group=group, minutes=15)
        topic_rates = topic_history(cluster="flaky", topic="outage", minutes=15)
    assert first.ok and not down.ok and not again.ok
    assert "flaky" in down.error or "127.0.0.1" in down.error
    since = datetime.now(UTC) - timedelta(minutes=15)
    stored = store.group_history_rounds(cluster="flaky", group=group, since=since)
    assert [r.at for r in stored] == [first.at.timestamp()]
    failed = SampleRound.objects.get(cluster="flaky", at=down.at)
    assert not failed.ok and failed.error
    # The charts get an empty point for the failed round: a gap, never a made-up value.
    i = history["times"].index(down.at.timestamp())
    assert history["ok"][i] is False
    assert history["total_lag"][i] is None
    assert history["total_lag"][0] == 6
    assert history["total_lag"][i:] == [None, None]
    assert topic_rates["produce_rate"][i] is None


@pytest.mark.django_db(transaction=True)
def test_migrating_the_old_rows_keeps_the_history() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("dashboard", "0007_sampler_lease")], [("dashboard", "0008_history_chunks")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    lag_sample, offset_point, topic_sample = (
        old.get_model("dashboard", name) for name in ("LagSample", "OffsetPoint", "TopicSample")
    )
    t0 = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    rows = []
    for i in range(70):  # more than a chunk
        at = t0 + timedelta(seconds=10 * i)
        parts = [
            ["orders", 0, 100 + i, 150 + 2 * i, 50 + i, 1764500000.5 + i, i, 4.5, 0, "OK"],
            ["orders", 1, 7, 9, 2, None, 0, None, 1, "STALL" if i > 60 else "OK"],
        ]
        rows.append((at, parts))
        lag_sample.objects.create(
            cluster="old",
            group="g",
            at=at,
            status="STALL" if i > 60 else "OK",
            total_lag=sum(int(p[4]) for p in parts),  # type: ignore[call-overload]
            topics="|orders|",
            partitions=parts,
        )
        topic_sample.objects.create(cluster="old", topic="orders", at=at, end_offsets=0)
        if i % 3 == 0:  # end offsets were stored when they moved
            offset_point.objects.create(
                cluster="old", topic="orders", partition=0, at=at, end_offset=150 + 2 * i
            )
    offset_point.objects.create(cluster="old", topic="orders", partition=1, at=t0, end_offset=9)
    executor.loader.build_graph()
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    since = t0 - timedelta(seconds=1)
    got = store.group_history_rounds(cluster="old", group="g", since=since)
    assert len(got) == 70
    for (at, parts), rnd in zip(rows, got, strict=True):
        assert rnd.at == round(at.timestamp() * 1000) / 1000
        assert [store.packed(p) for p in rnd.partitions] == parts
    ends = store.topic_ends_rounds(cluster="old", topic="orders", since=since)
    assert [e.ends for e in ends] == [{0: 150 + 2 * (i - i % 3), 1: 9} for i in range(70)]
    assert HistoryChunk.objects.filter(cluster="old", kind="group").count() == 2
