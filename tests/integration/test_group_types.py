"""Every group type Kafka has, against the real broker, with Kafka's own group tools as judge.

Share groups are read by confluent-kafka's ShareConsumer and by Kafka's
kafka-console-share-consumer; the streams group is Kafka's WordCount example run with
group.protocol=streams; the Connect-style group is a classic group of protocol type
`connect` (devtools/classicgroup.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, ShareConsumer, TopicPartition
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from dashboard.writes.models import AuditRecord
from devtools.broker import cli_run
from devtools.classicgroup import ClassicGroupMember
from devtools.streams import WORDCOUNT_INPUT, WORDCOUNT_OUTPUT, wordcount_start
from tests.helpers import CACHE_DIR, unique

pytestmark = pytest.mark.django_db


Cells = tuple[int | None, int | None]  # start offset, lag


def cli_table(bootstrap: str, tool: str, *args: str, missing_ok: bool = False) -> list[list[str]]:
    """The rows of a Kafka tool's table (header left out), split on whitespace."""
    result = cli_run(
        cache_dir=CACHE_DIR, tool=tool, args=["--bootstrap-server", bootstrap, *args], timeout=120
    )
    if missing_ok and "GroupIdNotFoundException" in result.stderr:
        return []
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    return [cols for cols in lines if cols and cols[0] != "GROUP"]


def share_earliest(admin, group: str) -> None:
    """share.auto.offset.reset is a group config (KIP-932), not a client setting."""
    entry = ConfigEntry(
        "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
    )
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(timeout=15)


def produce(
    bootstrap: str, topic: str, count: int, keyed: bool = True, partitions: int | None = None
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        # With `partitions`, round-robin by hand: an unkeyed record's sticky partitioner may
        # put a whole small batch on one partition, leaving the other without a commit.
        key, value = f"k{i}" if keyed else None, f"hello world {i}"
        if partitions:
            producer.produce(topic, key=key, value=value, partition=i % partitions)
        else:
            producer.produce(topic, key=key, value=value)
    producer.flush(15)


def share_read(bootstrap: str, group: str, topic: str, want: int) -> ShareConsumer:
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.subscribe([topic])
    got, deadline = 0, time.monotonic() + 60
    while got < want and time.monotonic() < deadline:
        got += sum(1 for m in consumer.poll(1.0) if m.error() is None)
    consumer.poll(0.5)  # acknowledges the last batch (implicit mode)
    assert got >= want
    return consumer


def share_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], Cells]:
    rows = cli_table(bootstrap, "share-groups", "--describe", "--offsets", "--group", group)
    out: dict[tuple[str, int], Cells] = {}
    for cols in rows:
        if len(cols) == 5 and cols[0] == group:
            start, lag = (None if c == "-" else int(c) for c in cols[3:5])
            out[(cols[1], int(cols[2]))] = (start, lag)
    return out


def ours_share(client, group: str) -> dict[tuple[str, int], Cells]:
    answer = client.get(f"/api/clusters/local/groups/{group}/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["type"] == "share"
    return {(p["topic"], p["partition"]): (p["start_offset"], p["lag"]) for p in body["partitions"]}


def test_share_group_members_start_offsets_and_lag_equal_kafkas_tool(
    admin, kafka_broker, make_topic, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("queue", partitions=3)
    group = unique("share")
    share_earliest(admin, group)
    produce(bootstrap, topic, 30)
    consumer = share_read(bootstrap, group, topic, 30)
    try:
        body = operator.get(f"/api/clusters/local/groups/{group}/").json()
        members = cli_table(bootstrap, "share-groups", "--describe", "--members", "--group", group)
        # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
        assert {(m[1], int(m[4])) for m in members if m[0] == group} == {
            (m["member_id"], len(m["assignment"])) for m in body["members"]
        }
        assert body["state"] == "stable" and body["assignor"] == "simple"
        row = next(
            g
            for g in operator.get("/api/clusters/local/groups/").json()["groups"]
            if g["group"] == group
        )
        assert (row["type"], row["members"], row["topics"]) == ("share", 1, [topic])
        page = operator.get(f"/clusters/local/groups/{group}/")
        assert page.status_code == 200 and b"Share group" in page.content
        assert b"start offset" in page.content.lower()
        reset_page = operator.get(f"/clusters/local/groups/{group}/reset/")
        assert reset_page.status_code == 200 and b"Reset start offsets" in reset_page.content
    finally:
        consumer.close()
    # Closed: acknowledgements are in, nothing moves; every cell equals the tool's.
    kafka = share_offsets(bootstrap, group)
    assert kafka and ours_share(operator, group) == kafka
    produce(bootstrap, topic, 7)  # new records: the broker's lag grows, so does ours
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        kafka = share_offsets(bootstrap, group)
        if sum(lag or 0 for _, lag in kafka.values()) >= 7:
            break
        time.sleep(0.5)
    assert ours_share(operator, group) == kafka


def test_console_share_consumer_group_is_listed_as_share(
    admin, kafka_broker, make_topic, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("console-queue", partitions=2)
    group = unique("console-share")
    share_earliest(admin, group)
    produce(bootstrap, topic, 10, keyed=False)
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="console-share-consumer",
        args=[
            "--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
            "--max-messages", "10", "--timeout-ms", "30000",
        ],
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 10
    assert ours_share(operator, group) == share_offsets(bootstrap, group)


@pytest.fixture
def streams_app(admin, kafka_broker, tmp_path: Path):
    bootstrap = kafka_broker.bootstrap_servers
    for name in (WORDCOUNT_INPUT, WORDCOUNT_OUTPUT):
        if name not in admin.list_topics(timeout=10).topics:
            admin.create_topics([NewTopic(name, 2, 1)])[name].result(timeout=15)
    app = unique("wordcount")
    log = (tmp_path / "streams.log").open("wb")
    proc = wordcount_start(
        bootstrap=bootstrap, application_id=app, cache_dir=CACHE_DIR, work_dir=tmp_path, log=log
    )
    yield app
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def streams_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], tuple[int, ...]]:
    rows = cli_table(
        bootstrap,
        "streams-groups",
        *("--describe", "--offsets", "--verbose", "--group", group),
        missing_ok=True,
    )
    # GROUP TOPIC PARTITION CURRENT-OFFSET LEADER-EPOCH LOG-END-OFFSET OFFSET-LAG
    return {
        (c[1], int(c[2])): (int(c[3]), int(c[5]), int(c[6]))
        for c in rows
        if len(c) == 7 and c[0] == group and c[3] != "-"
    }


def test_streams_group_tasks_offsets_and_lag_equal_kafkas_tool(
    kafka_broker, streams_app, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    produce(bootstrap, WORDCOUNT_INPUT, 40, keyed=False, partitions=2)

    def ours() -> dict:
        body = operator.get(f"/api/clusters/local/groups/{streams_app}/").json()
        return {
            (p["topic"], p["partition"]): (p["committed_offset"], p["log_end_offset"], p["lag"])
            for p in body["partitions"]
            if p["committed_offset"] is not None
        }

    # The app is live: compare once it is caught up on all four partitions (two input,
    # two repartition) and Kafka's tool reads the same before and after ours.
    matched, deadline = False, time.monotonic() + 90
    while not matched and time.monotonic() < deadline:
        before = streams_offsets(bootstrap, streams_app)
        caught_up = len(before) == 4 and all(lag == 0 for _, _, lag in before.values())
        if caught_up:
            mine = ours()
            matched = mine == before == streams_offsets(bootstrap, streams_app)
        if not matched:
            time.sleep(1)
    assert matched, f"ours {ours()} != Kafka's {streams_offsets(bootstrap, streams_app)}"
    body = operator.get(f"/api/clusters/local/groups/{streams_app}/").json()
    assert body["type"] == "streams" and body["state"] == "stable"
    # Tasks as kafka-streams-groups prints them: ACTIVE: 0:[0,1]; 1:[0,1];
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="streams-groups",
        args=["--bootstrap-server", bootstrap, "--describe", "--members", "--verbose",
              "--group", streams_app],
    )  # fmt: skip
    active = result.stdout.split("ACTIVE:", 1)[1].split("TARGET-ACTIVE:", 1)[0]
    kafka_tasks = {
        f"{sub.strip()}_{p}"
        for part in active.split(";")
        if ":" in part
        for sub, parts in [part.split(":", 1)]
        for p in parts.strip(" []").split(",")
        if p
    }
    (member,) = body["streams"]["members"]
    assert set(member["active_tasks"]) == kafka_tasks
    inputs = {t for s in body["streams"]["subtopologies"] for t in s["source_topics"]}
    assert inputs == {WORDCOUNT_INPUT}
    page = operator.get(f"/clusters/local/groups/{streams_app}/")
    assert page.status_code == 200 and b"Streams group" in page.content


def test_every_group_kafka_lists_is_shown_with_its_type(admin, kafka_broker, operator) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    host, port = bootstrap.rsplit(":", 1)
    connect = unique("connect-cluster")
    consumer_group = unique("plain")
    topic = unique("typed")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": consumer_group})
    committer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    committer.close()
    with ClassicGroupMember(host=host, port=int(port), group=connect):
        rows = cli_table(bootstrap, "groups", "--list")
        listed = operator.get("/api/clusters/local/groups/?limit=1000").json()["groups"]
        page = operator.get(f"/clusters/local/groups/{connect}/")
    # Group ids may hold spaces (other tests make such groups): compare them as words.
    ours = {" ".join(g["group"].split()): g for g in listed}
    kinds = {"Classic", "Consumer", "Share", "Streams"}
    # GROUP TYPE PROTOCOL, e.g. "wordcount-… Streams streams", "connect-… Classic connect";
    # a group that only commits has no protocol.
    for cols in rows:
        if cols[-1] in kinds:
            group, kind, protocol = " ".join(cols[:-1]), cols[-1], ""
        else:
            group, kind, protocol = " ".join(cols[:-2]), cols[-2], cols[-1]
        assert group in ours, f"{group} ({kind}) is missing from our list"
        expected = protocol if kind == "Classic" and protocol not in {"consumer", ""} else kind
        assert ours[group]["type"] == expected.lower(), group
    assert ours[connect]["type"] == "connect" and ours[connect]["members"] == 1
    assert ours[connect]["assignor"] == "sessioned"
    assert ours[consumer_group]["type"] == "classic"
    assert page.status_code == 200 and b"Connect" in page.content
    overview = operator.get("/api/clusters/local/").json()
    assert overview["group_count"] >= len(rows)


def reset_api(client, group: str, **body):
    return client.post(
        f"/api/clusters/local/groups/{group}/reset/",
        data=json.dumps(body),
        content_type="application/json",
    )


def test_share_group_start_offsets_reset_refused_while_active_audited_and_undone(
    admin, kafka_broker, make_topic, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("requeue", partitions=2)
    group = unique("share-reset")
    share_earliest(admin, group)
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in (0, 1):
        for i in range(6):
            producer.produce(topic, value=f"job {i}", partition=p)
    producer.flush(15)
    consumer = share_read(bootstrap, group, topic, 12)
    try:
        refused = reset_api(operator, group, dry_run=False, strategy="earliest", topic=topic)
        assert refused.status_code == 409
        assert refused.json()["error"]["type"] == "group_not_empty"
    finally:
        consumer.close()
    before = share_offsets(bootstrap, group)
    preview = reset_api(operator, group, dry_run=True, strategy="offset", offset=2, topic=topic)
    assert preview.status_code == 200, preview.content
    plan = preview.json()["plan"]
    assert {(r["partition"], r["current"], r["new"], r["lag_before"]) for r in plan["rows"]} == {
        (p, before[(topic, p)][0], 2, before[(topic, p)][1]) for p in (0, 1)
    }
    assert any("delivered again" in n for n in plan["notes"])
    applied = reset_api(
        operator,
        group,
        dry_run=False,
        strategy="offset",
        offset=2,
        topic=topic,
        fingerprint=plan["fingerprint"],
    )
    assert applied.status_code == 200, applied.content
    after = share_offsets(bootstrap, group)
    # Two records re-delivered... from offset 2 on: Kafka's tool sees start 2 and lag 4.
    assert after == {(topic, 0): (2, 4), (topic, 1): (2, 4)}
    assert ours_share(operator, group) == after
    record = AuditRecord.objects.get(pk=applied.json()["audit_id"])
    assert record.previous["offsets"] == [[topic, p, before[(topic, p)][0]] for p in (0, 1)]
    undo = reset_api(
        operator, group, dry_run=False, strategy="offsets", offsets=record.previous["offsets"]
    )
    assert undo.status_code == 200, undo.content
    # The start offsets are back; the records past them count as not delivered (Kafka
    # keeps no per-record state across a reset), so the lag is the whole log now.
    restored = share_offsets(bootstrap, group)
    assert {k: start for k, (start, _) in restored.items()} == {
        k: start for k, (start, _) in before.items()
    }
    assert ours_share(operator, group) == restored
    copy = reset_api(operator, group, dry_run=True, strategy="copy", source_group="x")
    assert copy.status_code == 400


def test_sampler_records_share_lag_with_a_type_label(
    admin, kafka_broker, make_topic, viewer
) -> None:
    from tests.integration.test_history import metric_values, sampler_for

    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("sampled-queue", partitions=2)
    group = unique("share-sampled")
    share_earliest(admin, group)
    produce(bootstrap, topic, 8)
    share_read(bootstrap, group, topic, 8).close()
    produce(bootstrap, topic, 5)  # lag the broker counts: 5 records not yet delivered
    sampler = sampler_for()
    try:
        for _ in range(2):
            assert sampler.round().ok
            time.sleep(0.5)
    finally:
        sampler.stop()
    kafka = share_offsets(bootstrap, group)
    text = viewer.get("/metrics").content.decode()
    lags = metric_values(text, "kafkaview_consumergroup_lag")
    ours = {
        (dict(k)["topic"], int(dict(k)["partition"])): v
        for k, v in lags.items()
        if dict(k)["group"] == group
    }
    assert {dict(k)["type"] for k in lags if dict(k)["group"] == group} == {"share"}
    assert ours == {k: lag for k, (start, lag) in kafka.items() if start is not None}
    history = viewer.get(f"/api/clusters/local/groups/{group}/history/?range=15m").json()
    assert history["total_lag"][-1] == sum(ours.values())


def test_kip848_consumer_group_epochs_equal_kafkas_tool(kafka_broker, make_topic, operator) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("next-gen", partitions=2)
    group = unique("kip848")
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": "consumer"}
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while len(consumer.assignment()) < 2 and time.monotonic() < deadline:
            consumer.poll(0.2)
        time.sleep(1)
        body = operator.get(f"/api/clusters/local/groups/{group}/").json()
        result = cli_run(
            cache_dir=CACHE_DIR,
            tool="consumer-groups",
            args=["--bootstrap-server", bootstrap, "--describe", "--members", "--verbose",
                  "--group", group],
        )  # fmt: skip
    finally:
        consumer.close()
    assert result.returncode == 0, result.stderr
    header, row = (line.split() for line in result.stdout.splitlines() if line.strip())
    cells = dict(zip(header, row, strict=False))
    assert body["type"] == "consumer"
    (member,) = body["consumer_protocol"]["members"]
    assert member["member_id"] == cells["CONSUMER-ID"]
    assert str(member["member_epoch"]) == cells["CURRENT-EPOCH"]
    assert member["subscribed_topics"] == [topic]
    assert str(body["consumer_protocol"]["assignment_epoch"]) == cells["TARGET-EPOCH"]
