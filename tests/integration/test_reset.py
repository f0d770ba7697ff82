"""Offset resets against the real broker; Kafka's own kafka-consumer-groups is the judge."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.contrib.auth.models import Group

from dashboard.writes.models import AuditRecord
from devtools.broker import cli_run
from tests.helpers import CACHE_DIR, unique

pytestmark = pytest.mark.django_db


def kafka_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int | None]:
    """CURRENT-OFFSET per partition as kafka-consumer-groups --describe prints it."""
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="consumer-groups",
        args=["--bootstrap-server", bootstrap, "--describe", "--group", group],
    )
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group and cols[2].isdigit():
            out[(cols[1], int(cols[2]))] = None if cols[3] == "-" else int(cols[3])
    return out


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
    )
    consumer.close()


@pytest.fixture
def scene(kafka_broker, make_topic):
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("reset", partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap})
    for p, n in {0: 10, 1: 20}.items():
        for i in range(n):
            producer.produce(topic, value=f"early {i}".encode(), partition=p)
    producer.flush(15)
    time.sleep(0.1)
    middle = int(time.time() * 1000)
    time.sleep(0.1)
    for i in range(5):
        producer.produce(topic, value=f"late {i}".encode(), partition=0)
    producer.flush(15)
    group = unique("resettable")
    commit(bootstrap, group, {(topic, 0): 3, (topic, 1): 5, (topic, 2): 0})
    return {"bootstrap": bootstrap, "topic": topic, "group": group, "middle": middle}


def api(client, group: str, **body):
    return client.post(
        f"/api/clusters/local/groups/{group}/reset/",
        data=json.dumps(body),
        content_type="application/json",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"strategy": "earliest"}, {0: 0, 1: 0, 2: 0}),
        ({"strategy": "latest"}, {0: 15, 1: 20, 2: 0}),
        ({"strategy": "offset", "offset": 12}, {0: 12, 1: 12, 2: 0}),
        ({"strategy": "shift", "shift": -4}, {0: 0, 1: 1, 2: 0}),
        ({"strategy": "shift", "shift": 7}, {0: 10, 1: 12, 2: 0}),
        ({"strategy": "timestamp", "timestamp": "MIDDLE"}, {0: 10, 1: 20, 2: 0}),
    ],
)
def test_every_strategy_lands_exactly_where_the_preview_promised(
    operator, scene, body, expected
) -> None:
    topic, group = scene["topic"], scene["group"]
    if body.get("timestamp") == "MIDDLE":
        body = {**body, "timestamp": scene["middle"]}
    preview = api(operator, group, dry_run=True, **body).json()["plan"]
    promised = {r["partition"]: r["new"] for r in preview["rows"]}
    assert promised == expected
    before = kafka_offsets(scene["bootstrap"], group)
    assert before == {(topic, 0): 3, (topic, 1): 5, (topic, 2): 0}
    applied = api(operator, group, dry_run=False, fingerprint=preview["fingerprint"], **body)
    assert applied.status_code == 200, applied.content
    after = kafka_offsets(scene["bootstrap"], group)
    assert after == {(topic, p): o for p, o in promised.items()}

    # Undo: back to exactly the offsets the audit recorded.
    record = AuditRecord.objects.get(pk=applied.json()["audit_id"])
    assert record.previous["offsets"] == [[topic, 0, 3], [topic, 1, 5], [topic, 2, 0]]
    undo = api(
        operator, group, dry_run=False, strategy="offsets", offsets=record.previous["offsets"]
    )
    assert undo.status_code == 200
    assert kafka_offsets(scene["bootstrap"], group) == before


def test_clamped_values_are_marked(operator, scene) -> None:
    plan = api(operator, scene["group"], dry_run=True, strategy="offset", offset=18).json()["plan"]
    rows = {r["partition"]: r for r in plan["rows"]}
    assert rows[0]["new"] == 15 and rows[0]["clamped"] is True
    assert rows[1]["new"] == 18 and rows[1]["clamped"] is False
    assert rows[1]["lag_before"] == 15 and rows[1]["lag_after"] == 2


def test_copy_from_another_group_and_scope(operator, scene) -> None:
    topic, group = scene["topic"], scene["group"]
    source = unique("source")
    commit(scene["bootstrap"], source, {(topic, 1): 17})
    plan = api(operator, group, dry_run=True, strategy="copy", source_group=source).json()["plan"]
    assert [(r["partition"], r["new"]) for r in plan["rows"]] == [(1, 17)]
    assert any("has no committed offset there" in n for n in plan["notes"])
    scoped = api(
        operator, group, dry_run=False, strategy="earliest", partitions=[[topic, 1]]
    ).json()
    assert [r["partition"] for r in scoped["results"]] == [1]
    assert kafka_offsets(scene["bootstrap"], group) == {(topic, 0): 3, (topic, 1): 0, (topic, 2): 0}


def test_an_active_group_is_refused_and_nothing_moves(operator, scene) -> None:
    topic, group = scene["topic"], scene["group"]
    consumer = Consumer(
        {"bootstrap.servers": scene["bootstrap"], "group.id": group, "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    for _ in range(50):
        consumer.poll(0.2)
        if consumer.assignment():
            break
    try:
        response = api(operator, group, dry_run=False, strategy="earliest")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["type"] == "group_not_empty"
        assert "stop its consumers first" in error["message"]
        page = operator.post(
            f"/clusters/local/groups/{group}/reset/", {"action": "preview", "strategy": "earliest"}
        )
        assert page.status_code == 409
        assert "active member" in page.content.decode()
        assert kafka_offsets(scene["bootstrap"], group)[(topic, 1)] == 5
    finally:
        consumer.close()


def test_plan_changed_between_preview_and_apply(operator, scene) -> None:
    topic, group = scene["topic"], scene["group"]
    preview = api(operator, group, dry_run=True, strategy="earliest").json()["plan"]
    commit(scene["bootstrap"], group, {(topic, 1): 9})  # a consumer committed meanwhile
    response = api(
        operator, group, dry_run=False, strategy="earliest", fingerprint=preview["fingerprint"]
    )
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "plan_changed"
    assert {r["partition"]: r["current"] for r in response.json()["plan"]["rows"]}[1] == 9
    assert kafka_offsets(scene["bootstrap"], group)[(topic, 1)] == 9


def test_pages_preview_apply_audit_and_undo(operator, scene) -> None:
    topic, group = scene["topic"], scene["group"]
    url = f"/clusters/local/groups/{group}/reset/"
    assert operator.get(url).status_code == 200
    preview = operator.post(url, {"action": "preview", "strategy": "latest"})
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert kafka_offsets(scene["bootstrap"], group)[(topic, 0)] == 3  # a preview moves nothing
    applied = operator.post(
        url,
        {
            "action": "apply",
            "parameters": preview.context["parameters_json"],
            "fingerprint": plan.fingerprint,
        },
    )
    assert applied.status_code == 200
    assert "Applied" in applied.content.decode()
    assert kafka_offsets(scene["bootstrap"], group)[(topic, 1)] == 20
    audit_page = operator.get("/audit/")
    html = audit_page.content.decode()
    assert group in html and "Undo" in html
    undo_offsets = next(
        r["undo"] for r in audit_page.context["rows"] if r["record"].target == group
    )
    undo_preview = operator.post(
        url, {"action": "preview", "strategy": "offsets", "offsets": undo_offsets}
    )
    assert undo_preview.status_code == 200
    undo_plan = undo_preview.context["plan"]
    operator.post(
        url,
        {
            "action": "apply",
            "parameters": undo_preview.context["parameters_json"],
            "fingerprint": undo_plan.fingerprint,
        },
    )
    assert kafka_offsets(scene["bootstrap"], group) == {(topic, 0): 3, (topic, 1): 5, (topic, 2): 0}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"strategy": "sideways"}, "strategy must be one of"),
        ({"strategy": "offset"}, "Give the offset"),
        ({"strategy": "offset", "offset": "ten"}, "offset must be a whole number"),
        ({"strategy": "timestamp", "timestamp": "noon"}, "neither milliseconds"),
        ({"strategy": "shift"}, "Give the number"),
        ({"strategy": "earliest", "partitions": ["nocolon"]}, "topic:number"),
        ({"strategy": "earliest", "dry_run": "yes"}, "dry_run must be true or false"),
        ({"strategy": "offsets", "offsets": [["t", "x", 1]]}, "offsets must be"),
    ],
)
def test_bad_reset_requests_are_400(operator, scene, body, message) -> None:
    response = api(operator, scene["group"], **{"dry_run": True, **body})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_unknown_group_is_404_and_viewers_are_refused(
    operator, client, scene, django_user_model
) -> None:
    assert api(operator, unique("ghost"), strategy="earliest").status_code == 404
    viewer = django_user_model.objects.create_user(username=unique("v"), password="x")
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    assert client.get(f"/clusters/local/groups/{scene['group']}/reset/").status_code == 403
    assert api(client, scene["group"], strategy="earliest").status_code == 403
    assert "/reset/" not in client.get(f"/clusters/local/groups/{scene['group']}/").content.decode()
