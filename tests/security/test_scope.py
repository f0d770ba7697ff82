"""Scope before data, on every path (findings 4, 5, 6 and 7)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema

from dashboard.lag.models import GroupEvent
from dashboard.writes.models import AuditRecord
from tests.security.conftest import PAN

pytestmark = pytest.mark.django_db(transaction=True)


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """The group's offsets as Kafka has them (the judge, not our pages)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    return {
        (tp.topic, tp.partition): tp.offset for tp in future.result(timeout=15).topic_partitions
    }


def test_copying_from_a_hidden_group_is_refused_on_every_path(scene) -> None:
    client, etl, billing = scene["client"], scene["etl"], scene["billing"]
    before = committed(scene["bootstrap"], etl)
    copy = {"strategy": "copy", "source_group": billing}
    url = f"/clusters/local/groups/{etl}/reset/"
    # The HTML form's apply path, as a hostile user would post it (finding 4).
    applied = client.post(
        url, {"action": "apply", "parameters": json.dumps(copy), "fingerprint": "x"}
    )
    assert applied.status_code == 404
    assert b'name="fingerprint"' not in applied.content  # no plan made of billing's offsets
    preview = client.post(url, {"action": "preview", **copy})
    assert preview.status_code == 404
    api = f"/api/clusters/local/groups/{etl}/reset/"
    for dry_run in (True, False):
        body = json.dumps({**copy, "dry_run": dry_run})
        answer = client.post(api, body, content_type="application/json")
        assert answer.status_code == 404, answer.content
    assert committed(scene["bootstrap"], etl) == before
    # Hidden and missing answer the same.
    missing = client.post(
        api,
        json.dumps({**copy, "source_group": "payments-no-such-group-x", "dry_run": True}),
        content_type="application/json",
    )
    missing_hidden = client.post(
        api, json.dumps({**copy, "dry_run": True}), content_type="application/json"
    )
    assert missing.status_code != 500 and missing_hidden.status_code == 404


def test_a_hidden_partition_answers_as_a_missing_one(scene) -> None:
    api = f"/api/clusters/local/groups/{scene['etl']}/reset/"

    def plan(partitions: str) -> tuple[int, str]:
        body = {"strategy": "earliest", "partitions": partitions, "dry_run": True}
        answer = scene["client"].post(api, json.dumps(body), content_type="application/json")
        return answer.status_code, answer.json()["error"]["message"].replace(partitions[:-2], "")

    assert plan(f"{scene['hidden']}:0") == plan("hr.no-such-topic-xyz:0")


def test_a_visible_group_names_no_hidden_topic(scene, make_topic) -> None:
    """A KIP-848 group subscribed to a visible and a hidden topic (finding 5)."""
    visible, hidden = scene["payments"], scene["hidden"]
    group = f"payments-kip848-{visible[-10:]}"
    consumer = Consumer(
        {"bootstrap.servers": scene["bootstrap"], "group.id": group, "group.protocol": "consumer"}
    )
    consumer.subscribe([visible, hidden])
    try:
        deadline = time.monotonic() + 30
        while len(consumer.assignment()) < 2 and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert len(consumer.assignment()) == 2
        body = scene["client"].get(f"/api/clusters/local/groups/{group}/")
        page = scene["client"].get(f"/clusters/local/groups/{group}/")
        groups = scene["client"].get("/api/clusters/local/groups/")
    finally:
        consumer.close()
    assert body.status_code == 200 and page.status_code == 200
    for answer in (body, page, groups):
        assert hidden.encode() not in answer.content
    (member,) = body.json()["consumer_protocol"]["members"]
    assert member["subscribed_topics"] == [visible]
    # Moves are recorded one topic an event; those on a hidden topic are left out.
    GroupEvent.objects.create(
        cluster="local",
        group=group,
        at=datetime(2026, 12, 1, tzinfo=UTC),
        kind="moved",
        text=f"partitions moved: {hidden} 0 → c (12345678)",
        topic=hidden,
    )
    assert hidden.encode() not in scene["client"].get(f"/clusters/local/groups/{group}/").content


def test_subjects_are_checked_before_the_registry_is_asked(scene, registry_local) -> None:
    """Finding 6: a hidden subject and a missing one answer alike, whatever the request."""
    registry_local.register_schema(f"{scene['hidden']}-value", Schema('"string"', "AVRO"))
    registry_local.register_schema("com.acme.Order", Schema('"string"', "AVRO"))
    client = scene["client"]
    hidden = client.get(f"/api/clusters/local/schemas/{scene['hidden']}-value/?version=abc")
    missing = client.get("/api/clusters/local/schemas/payments.nothing-here-value/?version=abc")
    unmapped = client.get("/api/clusters/local/schemas/com.acme.Order/?version=abc")
    assert hidden.status_code == missing.status_code == unmapped.status_code == 404
    listed = client.get("/api/clusters/local/schemas/").json()["subjects"]
    assert {s["subject"] for s in listed} <= {f"{scene['payments']}-value"}


def test_the_audit_shows_a_scoped_user_only_what_they_may_see(scene, django_user_model) -> None:
    """Finding 7: others' searches, a masked filter, a reset's hidden partitions."""
    other = django_user_model.objects.create_user(username="someone-else")
    AuditRecord.objects.create(
        user=other,
        username="someone-else",
        cluster="local",
        action=AuditRecord.Action.READ,
        target=scene["payments"],
        parameters={"kind": "search", "filter": {"text": PAN}},
    )
    AuditRecord.objects.create(
        user=other,
        username="someone-else",
        cluster="local",
        action=AuditRecord.Action.RESET_OFFSETS,
        target=scene["etl"],
        parameters={"strategy": "earliest", "topic": scene["hidden"]},
        previous={"offsets": [[scene["payments"], 0, 2], [scene["hidden"], 0, 3]]},
        status=AuditRecord.Status.DONE,
    )
    page = scene["client"].get("/audit/").content.decode()
    assert PAN not in page
    assert scene["hidden"] not in page
    assert f"{scene['payments']}-0: 2" in page


def test_a_search_is_audited_through_the_topics_masks(scene) -> None:
    from dashboard.kafka.tail.request import tail_request
    from dashboard.writes.services import read_start

    request = tail_request(topic=scene["payments"], params={"filter": {"text": PAN}, "end": "now"})
    record = read_start(
        user=scene["user"], cluster="local", topic=scene["payments"], request=request
    )
    assert PAN not in json.dumps(record.parameters)
