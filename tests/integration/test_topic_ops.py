"""Create, grow, purge and delete topics against the real broker; Kafka's own kafka-topics and
GetOffsetShell are the judges."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from dashboard.access.rules import access_parse
from dashboard.writes.models import AuditRecord
from devtools.broker import cli_run
from tests.helpers import CACHE_DIR, PASSWORD, RECENT_MS, unique

pytestmark = pytest.mark.django_db


def tool(bootstrap: str, name: str, *args: str) -> str:
    result = cli_run(cache_dir=CACHE_DIR, tool=name, args=["--bootstrap-server", bootstrap, *args])
    assert result.returncode == 0, result.stderr
    return result.stdout


def described(bootstrap: str, topic: str) -> dict[str, str]:
    """The first line of kafka-topics --describe as key: value (PartitionCount, Configs...)."""
    out = tool(bootstrap, "topics", "--describe", "--topic", topic)
    head = out.splitlines()[0]
    fields = {}
    for part in head.split("\t"):
        key, _, value = part.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def listed(bootstrap: str) -> set[str]:
    return set(tool(bootstrap, "topics", "--list").split())


def offsets(bootstrap: str, topic: str, time_spec: str) -> dict[int, int]:
    """GetOffsetShell: -2 the earliest offset of each partition, -1 the latest."""
    out = tool(bootstrap, "get-offsets", "--topic", topic, "--time", time_spec)
    rows = {}
    for line in out.split():
        name, partition, offset = line.rsplit(":", 2)
        if name == topic:
            rows[int(partition)] = int(offset)
    return rows


def api(client, path: str, **body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def base(topic: str) -> str:
    return f"/api/clusters/local/topics/{topic}"


CREATE = "/api/clusters/local/create-topic/"


def test_create_previews_with_validate_only_then_creates_what_kafka_topics_describes(
    kafka_broker, cluster_admin
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    name = unique("created")
    body = {
        "name": name,
        "partitions": 3,
        "replication_factor": 1,
        "configs": {"retention.ms": 7200000, "cleanup.policy": "compact"},
    }
    preview = api(cluster_admin, CREATE, dry_run=True, **body)
    assert preview.status_code == 200, preview.content
    assert name not in listed(bootstrap)
    created = api(cluster_admin, CREATE, dry_run=False, **body)
    assert created.status_code == 201, created.content
    fields = described(bootstrap, name)
    assert (fields["PartitionCount"], fields["ReplicationFactor"]) == ("3", "1")
    # (The test broker sets min.insync.replicas cluster-wide; kafka-topics lists it too.)
    assert {"retention.ms=7200000", "cleanup.policy=compact"} <= set(fields["Configs"].split(","))
    record = AuditRecord.objects.get(pk=created.json()["audit_id"])
    assert (record.action, record.target, record.status) == ("create_topic", name, "done")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"replication_factor": 3}, "replicat"),
        ({"partitions": 0}, "partitions must be at least 1"),
        ({"name": "bad name!"}, "is not a valid topic name"),
        ({"configs": {"no.such.key": "1"}}, "no.such.key"),
        ({"configs": {"retention.ms": "soon"}}, "retention.ms"),
    ],
)
def test_a_create_kafka_would_refuse_says_why_and_creates_nothing(
    kafka_broker, cluster_admin, body, words
) -> None:
    name = unique("refused")
    answer = api(cluster_admin, CREATE, dry_run=False, **{"name": name, "partitions": 1, **body})
    assert answer.status_code == 400, answer.content
    assert words in answer.json()["error"]["message"]
    assert name not in listed(kafka_broker.bootstrap_servers)


def test_an_existing_topic_is_not_created_again(make_topic, cluster_admin) -> None:
    topic = make_topic("exists")
    answer = api(cluster_admin, CREATE, dry_run=True, name=topic, partitions=1)
    assert answer.status_code == 400
    assert "already exists" in answer.json()["error"]["message"]


POLICY = r"""
[[rules]]
groups = ["team"]
topics = ["team\\..*"]
actions = ["view", "create", "configure", "delete"]

[[policies]]
name = "team-topics"
partitions = [2, 4]
required_configs = ["retention.ms"]
"""


def test_a_policy_refuses_a_create_and_a_growth_before_the_broker_is_asked(
    kafka_broker, client, user
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    user.groups.add(Group.objects.get_or_create(name="team")[0])
    client.force_login(user)
    name = unique("team.orders")
    with override_settings(KAFKAVIEW_ACCESS=access_parse(POLICY, source="access.toml")):
        one = api(client, CREATE, dry_run=False, name=name, partitions=1)
        assert one.status_code == 422
        assert one.json()["error"]["rule"] == "partitions"
        bare = api(client, CREATE, dry_run=False, name=name, partitions=2)
        assert bare.json()["error"]["rule"] == "required_configs"
        elsewhere = api(client, CREATE, dry_run=False, name=unique("other"), partitions=2)
        assert elsewhere.status_code == 404
        made = api(
            client, CREATE, dry_run=False, name=name, partitions=2, configs={"retention.ms": 1000}
        )
        assert made.status_code == 201, made.content
        grow = api(client, f"{base(name)}/partitions/", dry_run=True, count=8)
        assert grow.status_code == 422
        assert "2 to 4 partitions" in grow.json()["error"]["message"]
    assert described(bootstrap, name)["PartitionCount"] == "2"


def murmur2_producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})


def produce_keys(bootstrap: str, topic: str, keys: list[str]) -> dict[str, int]:
    """Send one record per key with the Java clients' partitioner; where each landed."""
    producer = murmur2_producer(bootstrap)
    landed: dict[str, int] = {}

    def report(err, msg) -> None:
        assert err is None, err
        landed[msg.key().decode()] = msg.partition()

    for key in keys:
        producer.produce(topic, key=key.encode(), value=b"v", on_delivery=report)
    producer.flush(30)
    return landed


def test_adding_partitions_moves_the_keys_the_preview_said(
    kafka_broker, make_topic, cluster_admin
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("grow", partitions=2)
    keys = [f"customer-{i}" for i in range(60)]
    before = produce_keys(bootstrap, topic, keys)
    fewer = api(cluster_admin, f"{base(topic)}/partitions/", dry_run=True, count=2)
    assert fewer.status_code == 400
    assert "only add partitions" in fewer.json()["error"]["message"]
    preview = api(cluster_admin, f"{base(topic)}/partitions/", dry_run=True, count=5)
    assert preview.status_code == 200, preview.content
    plan = preview.json()["plan"]
    murmur = next(m for m in plan["movements"] if m["partitioner"] == "murmur2")
    assert (plan["records_sampled"], murmur["keys"]) == (60, 60)
    assert "cannot be undone" in plan["ordering"]
    unconfirmed = api(cluster_admin, f"{base(topic)}/partitions/", dry_run=False, count=5)
    assert unconfirmed.status_code == 400
    assert described(bootstrap, topic)["PartitionCount"] == "2"

    applied = api(
        cluster_admin, f"{base(topic)}/partitions/", dry_run=False, count=5, confirm=topic
    )
    assert applied.status_code == 200, applied.content
    assert described(bootstrap, topic)["PartitionCount"] == "5"
    # A fresh murmur2 producer, after the change: exactly the promised keys land elsewhere.
    after = produce_keys(bootstrap, topic, keys)
    moved = {k for k in keys if after[k] != before[k]}
    assert len(moved) == murmur["moved"]
    assert {e[0] for e in murmur["examples"]} <= moved


@pytest.fixture
def filled(kafka_broker, make_topic):
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("purge", partitions=2)
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in (0, 1):
        for i in range(10):
            producer.produce(topic, value=f"{p}-{i}".encode(), partition=p)
    producer.flush(15)
    return {"bootstrap": bootstrap, "topic": topic}


def test_purge_before_an_offset_moves_the_low_watermark_getoffsetshell_reads(
    filled, cluster_admin
) -> None:
    bootstrap, topic = filled["bootstrap"], filled["topic"]
    path = f"{base(topic)}/purge/"
    preview = api(cluster_admin, path, dry_run=True, mode="offset", value=4, partitions=[0])
    assert preview.status_code == 200, preview.content
    plan = preview.json()["plan"]
    assert [(r["partition"], r["low"], r["new_low"], r["removed"]) for r in plan["rows"]] == [
        (0, 0, 4, 4)
    ]
    assert offsets(bootstrap, topic, "-2") == {0: 0, 1: 0}
    past = api(cluster_admin, path, dry_run=True, mode="offset", value=11)
    assert past.status_code == 400
    assert "high watermark" in past.json()["error"]["message"]
    applied = api(
        cluster_admin,
        path,
        dry_run=False,
        mode="offset",
        value=4,
        partitions=[0],
        confirm=topic,
        fingerprint=plan["fingerprint"],
    )
    assert applied.status_code == 200, applied.content
    assert offsets(bootstrap, topic, "-2") == {0: 4, 1: 0}
    everything = api(cluster_admin, path, dry_run=False, mode="all", confirm=topic)
    assert everything.status_code == 200, everything.content
    assert everything.json()["plan"]["removed"] == 16
    assert offsets(bootstrap, topic, "-2") == offsets(bootstrap, topic, "-1") == {0: 10, 1: 10}


def test_purge_before_a_time_keeps_the_records_from_that_time(
    kafka_broker, make_topic, cluster_admin
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("purge-time")
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(3):
        producer.produce(topic, value=b"old", partition=0, timestamp=RECENT_MS + i)
    for i in range(2):
        producer.produce(topic, value=b"new", partition=0, timestamp=RECENT_MS + 1000 + i)
    producer.flush(15)
    path = f"{base(topic)}/purge/"
    applied = api(
        cluster_admin, path, dry_run=False, mode="timestamp", value=RECENT_MS + 1000, confirm=topic
    )
    assert applied.status_code == 200, applied.content
    assert offsets(bootstrap, topic, "-2") == {0: 3}


def test_delete_lists_the_consumers_first_and_takes_the_typed_name(
    kafka_broker, make_topic, cluster_admin
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("doomed")
    group = unique("reader")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    consumer.close()
    path = f"{base(topic)}/delete/"
    preview = api(cluster_admin, path, dry_run=True)
    assert preview.status_code == 200
    assert [c["group"] for c in preview.json()["consumers"]] == [group]
    page = cluster_admin.get(f"/clusters/local/topics/{topic}/delete/").content.decode()
    assert group in page and "cannot be undone" in page
    wrong = api(cluster_admin, path, dry_run=False, confirm=topic + "x")
    assert wrong.status_code == 400
    assert topic in listed(bootstrap)
    gone = api(cluster_admin, path, dry_run=False, confirm=topic)
    assert gone.status_code == 200, gone.content
    deadline = time.monotonic() + 30
    while topic in listed(bootstrap) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert topic not in listed(bootstrap)
    assert AuditRecord.objects.get(pk=gone.json()["audit_id"]).previous == {"partitions": 1}


def test_viewers_and_read_only_mode_change_nothing(
    filled, cluster_admin, django_user_model
) -> None:
    bootstrap, topic = filled["bootstrap"], filled["topic"]
    viewer = Client()
    someone = django_user_model.objects.create_user(username=unique("viewer"), password=PASSWORD)
    someone.groups.add(Group.objects.get(name="viewer"))
    viewer.force_login(someone)
    calls = [
        (CREATE, {"name": unique("nope"), "partitions": 1}),
        (f"{base(topic)}/partitions/", {"count": 3, "confirm": topic}),
        (f"{base(topic)}/purge/", {"mode": "all", "confirm": topic}),
        (f"{base(topic)}/delete/", {"confirm": topic}),
    ]
    for path, body in calls:
        assert api(viewer, path, dry_run=False, **body).status_code == 403, path
    with override_settings(KAFKAVIEW_READ_ONLY=True):
        for path, body in calls:
            refused = api(cluster_admin, path, dry_run=False, **body)
            assert refused.status_code == 403, path
            assert "read-only" in refused.json()["error"]["message"]
    assert described(bootstrap, topic)["PartitionCount"] == "2"
    assert offsets(bootstrap, topic, "-2") == {0: 0, 1: 0}


SCOPED = r"""
[[rules]]
groups = ["watchers"]
topics = ["seen\\..*"]
consumer_groups = ["seen-.*"]
actions = ["view"]
"""


def test_scope_hides_with_404_and_refuses_with_403_for_each_new_action(
    kafka_broker, make_topic, client, user
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    seen, hidden = make_topic("seen."), make_topic("hidden")
    user.groups.add(Group.objects.get_or_create(name="watchers")[0])
    client.force_login(user)
    calls: dict[str, tuple[str, dict[str, object]]] = {
        "create": (CREATE, {"partitions": 1}),
        "configure": ("/configs/", {"set": {"retention.ms": "1000"}}),
        "partitions": ("/partitions/", {"count": 3, "confirm": None}),
        "purge": ("/purge/", {"mode": "all", "confirm": None}),
        "delete": ("/delete/", {"confirm": None}),
    }
    with override_settings(KAFKAVIEW_ACCESS=access_parse(SCOPED, source="access.toml")):
        for what, (suffix, fields) in calls.items():
            for topic, status in ((seen, 403), (hidden, 404)):
                if what == "create":
                    path, body = CREATE, {**fields, "name": unique(topic)}
                else:
                    path, body = base(topic) + suffix, {**fields, "confirm": topic}
                answer = api(client, path, dry_run=False, **body)
                assert answer.status_code == status, (what, topic, answer.content)
        for group, status in ((unique("seen-g"), 403), (unique("other-g"), 404)):
            path = f"/api/clusters/local/groups/{group}/delete/"
            assert api(client, path, dry_run=False).status_code == status
        assert (
            api(client, "/api/clusters/local/brokers/1/configs/", set={"x": "1"}).status_code == 403
        )
        # Reading configs needs only view: the visible topic's, not the hidden one's.
        assert client.get(f"{base(seen)}/configs/").status_code == 200
        assert client.get(f"{base(hidden)}/configs/").status_code == 404
    assert described(bootstrap, seen)["PartitionCount"] == "1"
    assert described(bootstrap, hidden)["PartitionCount"] == "1"
