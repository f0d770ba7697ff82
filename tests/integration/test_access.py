"""Scoped access against the real broker: a payments team sees and does only what its rules say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from confluent_kafka import Consumer, Producer, TopicPartition
from django.contrib.auth.models import Group
from django.test import override_settings

from dashboard.access.rules import access_parse
from dashboard.writes.models import AuditRecord
from tests.helpers import PASSWORD, manage_check, unique
from tests.integration.test_tail import APP, run

pytestmark = pytest.mark.django_db(transaction=True)

RULES = r"""
[[rules]]
groups = ["payments-team"]
clusters = ["local"]
topics = ["payments\\..*"]
consumer_groups = ["payments-.*"]
actions = ["view", "tail", "reset"]

[[masks]]
topics = ["payments\\..*"]
json_fields = ["card.number", "cvv"]
regex = ["\\b\\d{13,19}\\b"]
"""
CARD = "4111111111111111"


@pytest.fixture
def scene(kafka_broker, make_topic, django_user_model, client):
    bootstrap = kafka_broker.bootstrap_servers
    tag = unique("s")
    payments = make_topic(f"payments.orders-{tag}", partitions=1)
    salaries = make_topic(f"hr.salaries-{tag}", partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(payments, value=json.dumps({"card": {"number": CARD}, "cvv": "123"}))
    producer.produce(payments, value=f"paid with {CARD}".encode())
    producer.produce(salaries, value=b"secret")
    producer.flush(15)
    groups = {}
    for name in (f"payments-etl-{tag}", f"billing-etl-{tag}"):
        committer = Consumer({"bootstrap.servers": bootstrap, "group.id": name})
        committer.commit(offsets=[TopicPartition(payments, 0, 1)], asynchronous=False)
        committer.commit(offsets=[TopicPartition(salaries, 0, 0)], asynchronous=False)
        committer.close()
        groups[name.split("-")[0]] = name
    user = django_user_model.objects.create_user(username=unique("pay"), password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="payments-team")[0])
    client.force_login(user)
    with override_settings(KAFKAVIEW_ACCESS=access_parse(RULES, source="access.toml")):
        yield {
            "client": client,
            "user": user,
            "payments": payments,
            "salaries": salaries,
            "etl": groups["payments"],
            "billing": groups["billing"],
        }


def test_lists_show_only_what_the_rules_let_the_team_view(scene) -> None:
    client = scene["client"]
    topics = client.get("/api/clusters/local/topics/?limit=1000").json()["topics"]
    names = {t["name"] for t in topics}
    assert scene["payments"] in names and scene["salaries"] not in names
    assert all(n.startswith("payments.") for n in names)
    page = client.get("/clusters/local/topics/").content.decode()
    assert "some topics are hidden" in page and scene["salaries"] not in page
    groups = {g["group"]: g for g in client.get("/api/clusters/local/groups/").json()["groups"]}
    assert scene["etl"] in groups and scene["billing"] not in groups
    # The group committed on hr.salaries too: that partition is hidden, out of the totals.
    assert groups[scene["etl"]]["topics"] == [scene["payments"]]
    assert groups[scene["etl"]]["total_lag"] == 1
    detail = client.get(f"/api/clusters/local/groups/{scene['etl']}/").json()
    assert [p["topic"] for p in detail["partitions"]] == [scene["payments"]]
    overview = client.get("/api/clusters/local/").json()
    assert overview["topic_count"] == len([n for n in names if not n.startswith("__")])


def test_what_the_team_may_not_view_is_not_found(scene) -> None:
    client, salaries, billing = scene["client"], scene["salaries"], scene["billing"]
    for path in (
        f"/clusters/local/topics/{salaries}/",
        f"/api/clusters/local/topics/{salaries}/",
        f"/api/clusters/local/topics/{salaries}/history/",
        f"/clusters/local/topics/{salaries}/tail/",
        f"/clusters/local/topics/{salaries}/produce/",
        f"/clusters/local/groups/{billing}/",
        f"/api/clusters/local/groups/{billing}/",
        f"/api/clusters/local/groups/{billing}/history/",
    ):
        assert client.get(path).status_code == 404, path

    async def socket() -> tuple[dict, dict]:
        comm = WebsocketCommunicator(APP, f"/ws/clusters/local/topics/{salaries}/tail/")
        comm.scope["user"] = scene["user"]
        connected, _ = await comm.connect(timeout=5)
        assert connected
        frame = await comm.receive_json_from(timeout=5)
        closed = await comm.receive_output(timeout=5)
        return frame, closed

    frame, closed = run(socket)
    assert frame["type"] == "error" and frame["error"] == "topic_not_found"
    assert closed == {"type": "websocket.close", "code": 4404}


def test_actions_the_rules_do_not_allow_are_forbidden(scene) -> None:
    client = scene["client"]
    produce = client.post(
        f"/clusters/local/topics/{scene['payments']}/produce/",
        {"mode": "single", "value": "x", "value_format": "text"},
    )
    assert produce.status_code == 403
    reset = "/api/clusters/local/groups/{}/reset/"
    body = json.dumps({"strategy": "earliest", "dry_run": True})
    ok = client.post(reset.format(scene["etl"]), body, content_type="application/json")
    assert ok.status_code == 200, ok.content
    # Only the visible topic's partition is planned (the hr.salaries commit is not).
    assert [r["topic"] for r in ok.json()["plan"]["rows"]] == [scene["payments"]]
    hidden = client.post(reset.format(scene["billing"]), body, content_type="application/json")
    assert hidden.status_code == 404


def test_masked_values_in_the_tail_and_one_read_record(scene) -> None:
    async def tail() -> list[dict]:
        comm = WebsocketCommunicator(APP, f"/ws/clusters/local/topics/{scene['payments']}/tail/")
        comm.scope["user"] = scene["user"]
        connected, _ = await comm.connect(timeout=5)
        assert connected
        await comm.receive_json_from(timeout=5)  # hello
        await comm.send_json_to({"type": "start", "start": "earliest"})
        records: list[dict] = []
        while len(records) < 2:
            frame = await comm.receive_json_from(timeout=10)
            if frame["type"] == "batch":
                records.extend(frame["records"])
                await comm.send_json_to({"type": "ack", "seq": frame["seq"]})
        # A search for the card number finds nothing: the filter sees masked values.
        await comm.send_json_to(
            {"type": "start", "start": "earliest", "end": "now", "filter": {"text": CARD}}
        )
        while (frame := await comm.receive_json_from(timeout=10))["type"] != "done":
            pass
        assert frame["matched"] == 0 and frame["scanned"] == 3 - 1  # the topic's two records
        await comm.disconnect()
        return records

    page = scene["client"].get(f"/clusters/local/topics/{scene['payments']}/tail/")
    assert page.status_code == 200 and b'data-testid="masked-note"' in page.content
    records = run(tail)
    shown = json.dumps(records)
    assert CARD not in shown
    first, second = records
    assert json.loads(first["value"]["text"]) == {"card": {"number": "***"}, "cvv": "***"}
    assert second["value"]["text"] == "paid with ***"
    assert first["value"]["masked"] and first["masked"]
    reads = AuditRecord.objects.filter(action="read", target=scene["payments"]).order_by("pk")
    assert [r.parameters["kind"] for r in reads] == ["tail", "search"]
    assert all(r.completed_at is not None and r.username == scene["user"].username for r in reads)
    # The filter text is kept through the topic's masks: with field masks, not at all.
    assert reads[1].parameters["filter"]["text"] == "*** hidden: the topic is masked"
    assert CARD not in json.dumps(reads[0].result)  # never the contents


def test_a_bad_rules_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "access.toml"
    bad.write_text('[[rules]]\ngroups = ["a"]\nactions = ["fly"]\n')
    result = manage_check(KAFKAVIEW_ACCESS_FILE=str(bad))
    assert result.returncode != 0
    assert f"bad access rules: {bad}: rules[0].actions[0]: 'fly' is not one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_for_a_scoped_user_hold_only_their_groups_and_topics(scene, settings) -> None:
    from tests.integration.test_history import metric_values, sampler_for

    sampler = sampler_for()
    try:
        assert sampler.round().ok
    finally:
        sampler.stop()
    text = scene["client"].get("/metrics").content.decode()
    lags = metric_values(text, "kafkaview_consumergroup_lag")
    mine = [dict(k) for k in lags if dict(k)["group"] in (scene["etl"], scene["billing"])]
    assert {m["group"] for m in mine} == {scene["etl"]}
    assert {m["topic"] for m in mine} == {scene["payments"]}
    ends = metric_values(text, "kafkaview_partition_end_offset")
    assert not any(dict(k)["topic"] == scene["salaries"] for k in ends)
    # The bearer token (Prometheus) sees everything.
    settings.KAFKAVIEW_METRICS_TOKEN = "t0ken"
    everything = scene["client"].get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken")
    groups = {
        dict(k)["group"]
        for k in metric_values(everything.content.decode(), "kafkaview_consumergroup_lag")
    }
    assert {scene["etl"], scene["billing"]} <= groups
