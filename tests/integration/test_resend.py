"""Send records again: republish a search, redrive a dead-letter topic (real broker)."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)
from django.contrib.auth.models import Group
from django.test import override_settings

from dashboard.access.rules import access_parse
from dashboard.kafka.config import ClusterConfig
from dashboard.kafka.operate.resend import dead_letter_router, redrive_send
from dashboard.kafka.tail.export import ExportStats, records_read
from dashboard.kafka.tail.request import tail_request
from dashboard.kafka.tail.session import tail_plan
from dashboard.writes.models import AuditRecord
from tests.helpers import RECENT_MS, clusters_for, unique
from tests.integration.test_exchange import fill, read_all

pytestmark = pytest.mark.django_db


def post(client, topic: str, what: str, body: dict):
    return client.post(
        f"/api/clusters/local/topics/{topic}/{what}/",
        json.dumps(body),
        content_type="application/json",
    )


def committed(bootstrap: str, topic: str, partitions: int = 1) -> list[tuple]:
    """What a read_committed consumer sees: (key, value, header names) of every record."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("judge"),
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[tuple] = []
    ended: set[int] = set()
    while len(ended) < partitions:
        msg = consumer.poll(10)
        assert msg is not None, "the judge's consumer got nothing for 10 s"
        error = msg.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            continue  # a transient client error (a busy broker): not the end
        if error is not None:
            ended.add(int(msg.partition() or 0))
            continue
        out.append((msg.key(), msg.value(), [h[0] for h in msg.headers() or []]))
    consumer.close()
    return sorted(out)


@pytest.fixture
def source(kafka_broker, make_topic):
    topic = make_topic("resend-src", partitions=3)
    fill(kafka_broker.bootstrap_servers, topic)
    return topic


def test_republish_previews_then_sends_the_matches_byte_for_byte(
    kafka_broker, make_topic, source, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    target = make_topic("republished", partitions=3)
    body = {"destination": {"topic": target}, "keep_partitions": True, "keep_timestamps": True}
    preview = post(operator, source, "republish", body)
    assert preview.status_code == 200, preview.content
    shown = preview.json()
    assert (shown["in_range"], shown["matched"], shown["complete"]) == (5, 5, True)
    assert shown["destinations"][0]["topic"] == target
    assert len(shown["destinations"][0]["first"]) == 3
    assert read_all(bootstrap, target) == {0: [], 1: [], 2: []}  # a dry run sends nothing
    sent = post(operator, source, "republish", {**body, "dry_run": False})
    assert sent.status_code == 200, sent.content
    assert (sent.json()["delivered"], sent.json()["failed"]) == (5, 0)
    assert read_all(bootstrap, target) == read_all(bootstrap, source)
    record = AuditRecord.objects.get(pk=sent.json()["audit_id"])
    assert (record.action, record.status, record.target) == ("republish", "done", source)
    assert record.parameters["destination"] == {"cluster": "local", "topic": target}
    assert record.result["delivered"] == 5
    # A filter chooses; the partitioner picks partitions when they are not kept.
    again = post(
        operator,
        source,
        "republish",
        {"destination": {"topic": target}, "filter": {"text": "binary"}, "dry_run": False},
    )
    assert again.json()["delivered"] == 1


def test_republish_to_another_configured_cluster(kafka_broker, make_topic, source, operator):
    bootstrap = kafka_broker.bootstrap_servers
    target = make_topic("elsewhere", partitions=1)
    other = ClusterConfig(name="other", bootstrap_servers=bootstrap)
    with override_settings(KAFKAVIEW_CLUSTERS=clusters_for(bootstrap, other=other)):
        body = {"destination": {"cluster": "other", "topic": target}, "dry_run": False}
        sent = post(operator, source, "republish", body)
        assert sent.status_code == 200, sent.content
        assert sent.json()["destination"] == {"cluster": "other", "topic": target}
        assert sent.json()["delivered"] == 5
        kept = post(operator, source, "republish", {**body, "keep_partitions": True})
        assert kept.status_code == 400  # partition 2 has nowhere to go in a 1-partition topic
        assert "cannot keep their partition" in kept.json()["error"]["message"]
        unknown = post(
            operator, source, "republish", {"destination": {"cluster": "nope", "topic": target}}
        )
        assert unknown.status_code == 404
    assert len(read_all(bootstrap, target, partitions=1)[0]) == 5


DLT = "kafka_dlt-original-topic"


@pytest.fixture
def dead_letters(kafka_broker, make_topic):
    """A mixed dead-letter topic: three original topics named three ways, one record without
    a header, one naming a topic that does not exist."""
    a, b, c = (make_topic(name) for name in ("orders", "payments", "shipments"))
    dlq = make_topic("orders-dlt")
    rows = [
        (
            0,
            b"a1",
            b"order 1",
            [(DLT, a.encode()), ("kafka_dlt-exception-message", b"boom")],
            RECENT_MS + 1,
        ),
        (
            0,
            b"b1",
            b"payment 1",
            [("x-original-topic", b.encode()), ("trace", b"t1")],
            RECENT_MS + 2,
        ),
        (
            0,
            b"a2",
            b"order 2",
            [(DLT, a.encode()), ("kafka_dlt-original-offset", b"\0")],
            RECENT_MS + 3,
        ),
        (0, b"c1", b"shipment 1", [("__connect.errors.topic", c.encode())], RECENT_MS + 4),
        (0, b"x1", b"lost", [("trace", b"t2")], RECENT_MS + 5),
        (0, b"z1", b"nowhere", [(DLT, b"no-such-topic-anywhere")], RECENT_MS + 6),
        (0, b"b2", None, [("x-original-topic", b.encode())], RECENT_MS + 7),
    ]
    fill(kafka_broker.bootstrap_servers, dlq, rows)
    return dlq, a, b, c


def test_a_redrive_lands_every_record_on_its_topic_once_and_reports_the_rest(
    kafka_broker, dead_letters, operator
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    dlq, a, b, c = dead_letters
    preview = post(operator, dlq, "redrive", {})
    assert preview.status_code == 200, preview.content
    shown = preview.json()
    assert {d["topic"]: d["records"] for d in shown["destinations"]} == {a: 2, b: 2, c: 1}, shown
    assert shown["unroutable"] == 2
    reasons = {u["offset"]: u["reason"] for u in shown["unroutable_first"]}
    assert "no kafka_dlt-original-topic or x-original-topic" in reasons[4]
    assert "does not exist" in reasons[5]
    assert committed(bootstrap, a) == []  # the preview sent nothing
    sent = post(operator, dlq, "redrive", {"dry_run": False})
    assert sent.status_code == 200, sent.content
    done = sent.json()
    assert done["delivered"] == {a: 2, b: 2, c: 1}
    assert (done["unroutable"], done["error"], done["through"]) == (2, None, {"0": 7})
    # Dead-letter headers are dropped, the record's own kept.
    assert committed(bootstrap, a) == [(b"a1", b"order 1", []), (b"a2", b"order 2", [])]
    assert committed(bootstrap, b) == [(b"b1", b"payment 1", ["trace"]), (b"b2", None, [])]
    assert committed(bootstrap, c) == [(b"c1", b"shipment 1", [])]
    assert len(committed(bootstrap, dlq)) == 7  # the dead-letter topic is left as it was
    record = AuditRecord.objects.get(pk=done["audit_id"])
    assert (record.action, record.status, record.target) == ("redrive", "done", dlq)
    assert record.result["delivered"] == {a: 2, b: 2, c: 1}
    assert "not changed" in record.result["note"]


def test_a_redrive_by_a_configured_header_and_a_filter(kafka_broker, dead_letters, operator):
    dlq, _a, b, _c = dead_letters
    body = {"header": "x-original-topic", "filter": {"text": "payment"}}
    shown = post(operator, dlq, "redrive", body).json()
    assert [(d["topic"], d["records"]) for d in shown["destinations"]] == [(b, 1)], shown
    assert shown["matched"] == 1 and shown["unroutable"] == 0


def test_a_transaction_that_cannot_commit_lands_nothing_and_says_where_to_resume(
    kafka_broker, make_topic
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    small, dlq = make_topic("small-msgs"), make_topic("small-dlt")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("max.message.bytes", "2000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, small, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(timeout=15)
    header = [(DLT, small.encode())]
    rows = [
        (0, b"k%d" % i, b"v" * (5000 if i == 2 else 10), header, RECENT_MS + i) for i in range(4)
    ]
    fill(bootstrap, dlq, rows)
    request = tail_request(topic=dlq, params={"start": "earliest", "end": "now"})
    starts = tail_plan(cluster="local", request=request)
    stats = ExportStats()
    result = redrive_send(
        cluster="local",
        batches=records_read(
            cluster="local",
            request=request,
            starts=starts,
            masker=None,
            stats=stats,
            decode=False,
        ),
        route=dead_letter_router(dlq=dlq, header=None, refusal=lambda topic: None),
        transactional_id=unique("kafkaview-redrive-test"),
        keep_timestamps=False,
        strip_headers=True,
        header=None,
        commit_every=2,
    )
    # Two in the first transaction; the second held the record too large: aborted whole.
    assert result.delivered == {small: 2}
    assert result.aborted == 2 and result.error and "none of it landed" in result.error
    assert result.through == {0: 2}
    assert committed(bootstrap, small) == [(b"k0", b"v" * 10, []), (b"k1", b"v" * 10, [])]


RULES = r"""
[[rules]]
groups = ["team"]
topics = ["orders.*", "resend-src.*"]
actions = ["view", "export", "produce"]

[[rules]]
groups = ["team"]
topics = ["payments.*", "shipments.*"]
actions = ["view"]

[[masks]]
topics = ["resend-src.*"]
json_fields = ["cvv"]
"""


def test_scope_masks_and_read_only(kafka_broker, dead_letters, source, client, user) -> None:
    dlq, a, b, _c = dead_letters
    user.groups.add(Group.objects.get_or_create(name="team")[0])
    client.force_login(user)
    with override_settings(KAFKAVIEW_ACCESS=access_parse(RULES, source="access.toml")):
        shown = post(client, dlq, "redrive", {}).json()
        # orders-dlt matches orders.*: the user may redrive it, but only into orders.
        assert {d["topic"]: d["records"] for d in shown["destinations"]} == {a: 2}, shown
        reasons = [u["reason"] for u in shown["unroutable_first"]]
        # Three to topics not allowed, and the one naming an absent topic: not looked up,
        # so the answer does not tell whether a topic the user may not write exists.
        assert sum("you may not produce" in r for r in reasons) == 4
        hidden = post(client, unique("hidden"), "redrive", {})
        assert hidden.status_code == 404
        refused = post(client, source, "republish", {"destination": {"topic": b}})
        assert refused.status_code == 403  # may not produce to payments
        masked = post(client, source, "republish", {"destination": {"topic": a}})
        assert masked.status_code == 400 and "masked" in masked.json()["error"]["message"]
    with override_settings(KAFKAVIEW_READ_ONLY=True):
        client.force_login(user)
        assert post(client, dlq, "redrive", {"dry_run": False}).status_code == 403
        assert post(client, source, "republish", {"destination": {"topic": a}}).status_code == 403


def test_the_page_previews_and_redrives(kafka_broker, dead_letters, operator) -> None:
    dlq, a, b, c = dead_letters
    page = f"/clusters/local/topics/{dlq}/exchange/"
    form = {"kind": "redrive", "start": "earliest", "end": "now", "strip_headers": "1"}
    shown = operator.post(page, {**form, "dry_run": "1"})
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "Preview: 7 of 7 records in range matched" in html
    assert 'id="redrive-send"' in html and "no-such-topic-anywhere" in html
    sent = operator.post(page, {**form, "dry_run": "0"}).content.decode()
    assert all(f"<code>{t}</code>" in sent for t in (a, b, c))
    assert "2</strong> records cannot be sent" in sent
    assert len(committed(kafka_broker.bootstrap_servers, a)) == 2
    missing = operator.post(page, {"kind": "republish", "dest_topic": "no-such-topic-x"})
    assert missing.status_code == 400 and "no-such-topic-x" in missing.content.decode()
