"""Topic and broker config edits against the real broker; Kafka's own kafka-configs is the judge."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.access.rules import access_parse
from dashboard.writes.models import AuditRecord
from devtools.broker import cli_run
from tests.helpers import CACHE_DIR, PASSWORD, unique

pytestmark = pytest.mark.django_db

OVERRIDE = re.compile(r"^\s+([a-z0-9._-]+)=(\S*) sensitive=")


def kafka_configs(bootstrap: str, *entity: str) -> dict[str, str]:
    """The overrides kafka-configs --describe prints for one entity (its dynamic configs)."""
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="configs",
        args=["--bootstrap-server", bootstrap, "--describe", *entity],
    )
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        if found := OVERRIDE.match(line):
            out[found.group(1)] = found.group(2)
    return out


def topic_entity(topic: str) -> tuple[str, ...]:
    return ("--entity-type", "topics", "--entity-name", topic)


def api(client, path: str, **body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def topic_api(topic: str) -> str:
    return f"/api/clusters/local/topics/{topic}/configs/"


def page_overrides(client, path: str, level: str) -> dict[str, str]:
    """The overrides our JSON shows: the configs whose source is the resource's own level."""
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    return {c["name"]: c["value"] for c in answer.json()["configs"] if c["source"] == level}


@pytest.fixture
def configured(kafka_broker, make_topic, cluster_admin):
    topic = make_topic("configs")
    bootstrap = kafka_broker.bootstrap_servers
    first = api(cluster_admin, topic_api(topic), dry_run=False, set={"retention.ms": 3600000})
    assert first.status_code == 200, first.content
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "3600000"}
    return {"topic": topic, "bootstrap": bootstrap, "client": cluster_admin}


def test_the_diff_is_what_kafka_configs_then_shows_and_the_revert_puts_it_back(configured) -> None:
    topic, bootstrap, client = configured["topic"], configured["bootstrap"], configured["client"]
    change = {
        "set": {"cleanup.policy": "compact", "segment.ms": "600000"},
        "delete": ["retention.ms"],
    }
    preview = api(client, topic_api(topic), dry_run=True, **change)
    assert preview.status_code == 200, preview.content
    rows = {r["name"]: r for r in preview.json()["plan"]["rows"]}
    assert rows["cleanup.policy"] == {
        "name": "cleanup.policy",
        "op": "set",
        "before": "delete",
        "before_source": "default",
        "after": "compact",
        "after_source": "topic",
    }
    assert rows["retention.ms"]["op"] == "delete"
    assert (rows["retention.ms"]["before"], rows["retention.ms"]["before_source"]) == (
        "3600000",
        "topic",
    )
    assert rows["retention.ms"]["after_source"] != "topic"
    # A preview changes nothing.
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "3600000"}

    applied = api(
        client,
        topic_api(topic),
        dry_run=False,
        fingerprint=preview.json()["plan"]["fingerprint"],
        **change,
    )
    assert applied.status_code == 200, applied.content
    after = {"cleanup.policy": "compact", "segment.ms": "600000"}
    assert kafka_configs(bootstrap, *topic_entity(topic)) == after
    assert page_overrides(client, topic_api(topic), "topic") == after

    record = AuditRecord.objects.get(pk=applied.json()["audit_id"])
    assert record.status == AuditRecord.Status.DONE
    assert record.previous == {"overrides": {"retention.ms": "3600000"}}
    # The revert deletes the keys the change added and restores the one it removed.
    undo = api(client, f"/api/audit/{record.pk}/revert/", dry_run=True).json()["plan"]
    assert {r["name"]: r["op"] for r in undo["rows"]} == {
        "cleanup.policy": "delete",
        "segment.ms": "delete",
        "retention.ms": "set",
    }
    reverted = api(client, f"/api/audit/{record.pk}/revert/", dry_run=False)
    assert reverted.status_code == 200, reverted.content
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "3600000"}
    assert page_overrides(client, topic_api(topic), "topic") == {"retention.ms": "3600000"}
    assert (
        AuditRecord.objects.get(pk=reverted.json()["audit_id"]).parameters["reverts"] == record.pk
    )


def test_a_changed_config_between_preview_and_apply_is_not_applied(configured) -> None:
    topic, bootstrap, client = configured["topic"], configured["bootstrap"], configured["client"]
    preview = api(client, topic_api(topic), dry_run=True, set={"segment.ms": "700000"}).json()
    api(client, topic_api(topic), dry_run=False, set={"retention.ms": "7200000"})
    stale = api(
        client,
        topic_api(topic),
        dry_run=False,
        fingerprint=preview["plan"]["fingerprint"],
        set={"segment.ms": "700000"},
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["type"] == "plan_changed"
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "7200000"}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"set": {"no.such.config": "1"}}, 400, "is not a config of topic"),
        ({"set": {"retention.ms": "soon"}}, 400, "Not a number"),
        ({"set": {"retention.ms": "1"}, "delete": ["retention.ms"]}, 400, "both set and removed"),
        ({}, 400, "Nothing to change"),
        ({"set": ["retention.ms"]}, 400, "must map config keys"),
    ],
)
def test_bad_changes_say_why_and_change_nothing(configured, body, status, words) -> None:
    topic, bootstrap, client = configured["topic"], configured["bootstrap"], configured["client"]
    answer = api(client, topic_api(topic), dry_run=False, **body)
    assert answer.status_code == status, answer.content
    assert words in answer.json()["error"]["message"]
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "3600000"}


def test_unknown_topics_and_brokers_are_404(cluster_admin) -> None:
    assert (
        api(cluster_admin, topic_api("no-such-topic"), set={"retention.ms": "1"}).status_code == 404
    )
    assert cluster_admin.get("/api/clusters/local/brokers/42/configs/").status_code == 404
    assert cluster_admin.get("/api/clusters/local/brokers/x/configs/").status_code == 400


def test_a_viewer_and_read_only_mode_are_refused(configured, django_user_model) -> None:
    topic, bootstrap = configured["topic"], configured["bootstrap"]
    viewer = Client()
    someone = django_user_model.objects.create_user(username=unique("viewer"), password=PASSWORD)
    someone.groups.add(Group.objects.get(name="viewer"))
    viewer.force_login(someone)
    refused = api(viewer, topic_api(topic), dry_run=False, set={"segment.ms": "600000"})
    assert refused.status_code == 403
    assert "dashboard.configure_kafka" in refused.json()["error"]["message"]
    with override_settings(KAFKAVIEW_READ_ONLY=True):
        client = configured["client"]
        refused = api(client, topic_api(topic), dry_run=False, set={"segment.ms": "600000"})
        assert refused.status_code == 403
        assert "read-only" in refused.json()["error"]["message"]
    assert kafka_configs(bootstrap, *topic_entity(topic)) == {"retention.ms": "3600000"}


POLICY = r"""
[[rules]]
groups = ["team"]
topics = ["team\\..*"]
actions = ["view", "configure"]

[[policies]]
name = "durable"
min_configs = { "min.insync.replicas" = 1 }
forbidden_configs = ["unclean.leader.election.enable"]
"""


def test_a_policy_refuses_before_the_broker_is_asked_and_scope_holds(
    kafka_broker, make_topic, client, user
) -> None:
    team = make_topic("team.")
    other = make_topic("other")
    user.groups.add(Group.objects.get_or_create(name="team")[0])
    client.force_login(user)
    bootstrap = kafka_broker.bootstrap_servers
    with override_settings(KAFKAVIEW_ACCESS=access_parse(POLICY, source="access.toml")):
        refused = api(client, topic_api(team), dry_run=True, set={"segment.ms": "600000"})
        assert refused.status_code == 422, refused.content
        error = refused.json()["error"]
        assert (error["policy"], error["rule"]) == ("durable", "min_configs")
        assert "min.insync.replicas must be set to at least 1" in error["message"]
        forbidden = api(
            client,
            topic_api(team),
            dry_run=False,
            set={"min.insync.replicas": "1", "unclean.leader.election.enable": "true"},
        )
        assert forbidden.status_code == 422
        assert forbidden.json()["error"]["rule"] == "forbidden_configs"
        allowed = api(client, topic_api(team), dry_run=False, set={"min.insync.replicas": "1"})
        assert allowed.status_code == 200, allowed.content
        # Another team's topic does not exist for this user; brokers need cluster_actions.
        assert api(client, topic_api(other), set={"segment.ms": "1"}).status_code == 404
        brokers = api(client, "/api/clusters/local/brokers/1/configs/", set={"a": "1"})
        assert brokers.status_code == 403
    assert kafka_configs(bootstrap, *topic_entity(team)) == {"min.insync.replicas": "1"}
    assert kafka_configs(bootstrap, *topic_entity(other)) == {}


BROKER_KEYS = {"log.cleaner.backoff.ms": "16000", "log.cleaner.io.max.bytes.per.second": "1.0E9"}


@pytest.mark.parametrize(
    ("segment", "entity", "level"),
    [
        ("1", ("--entity-type", "brokers", "--entity-name", "1"), "broker"),
        ("default", ("--entity-type", "brokers", "--entity-default"), "cluster"),
    ],
)
def test_broker_configs_per_broker_and_cluster_wide_apply_and_revert(
    kafka_broker, cluster_admin, segment, entity, level
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    path = f"/api/clusters/local/brokers/{segment}/configs/"
    before = kafka_configs(bootstrap, *entity)
    assert not set(BROKER_KEYS) & set(before)
    try:
        applied = api(cluster_admin, path, dry_run=False, set=BROKER_KEYS)
        assert applied.status_code == 200, applied.content
        assert {r["after_source"] for r in applied.json()["plan"]["rows"]} == {level}
        after = kafka_configs(bootstrap, *entity)
        assert {k: after.get(k) for k in BROKER_KEYS} == BROKER_KEYS
        shown = page_overrides(cluster_admin, path, level)
        assert set(BROKER_KEYS) <= set(shown)
        read_only = api(cluster_admin, path, dry_run=True, set={"log.dirs": "/tmp/x"})
        assert read_only.status_code == 400
        assert "read-only" in read_only.json()["error"]["message"]
        record = applied.json()["audit_id"]
        reverted = api(cluster_admin, f"/api/audit/{record}/revert/", dry_run=False)
        assert reverted.status_code == 200, reverted.content
        assert kafka_configs(bootstrap, *entity) == before
    finally:  # the session's broker is shared by the tests after this one
        api(cluster_admin, path, dry_run=False, delete=list(BROKER_KEYS))


# Keys and values the broker takes for any topic; each draw sets some and removes others.
EDITABLE = {
    "retention.ms": st.sampled_from(["60000", "3600000", "86400000"]),
    "segment.ms": st.sampled_from(["600000", "3600000"]),
    "cleanup.policy": st.sampled_from(["delete", "compact", "compact,delete"]),
    "max.message.bytes": st.sampled_from(["100000", "2000000"]),
    "retention.bytes": st.sampled_from(["-1", "1073741824"]),
}


@st.composite
def edits(draw) -> dict[str, object]:
    keys = draw(st.lists(st.sampled_from(sorted(EDITABLE)), min_size=1, max_size=4, unique=True))
    to_set, to_delete = {}, []
    for key in keys:
        if draw(st.booleans()):
            to_set[key] = draw(EDITABLE[key])
        else:
            to_delete.append(key)
    return {"set": to_set, "delete": to_delete}


def test_random_edits_reverted_newest_first_end_where_they_began(configured) -> None:
    topic, bootstrap, client = configured["topic"], configured["bootstrap"], configured["client"]
    start = page_overrides(client, topic_api(topic), "topic")
    assert start == {"retention.ms": "3600000"}

    @settings(max_examples=12, deadline=None, derandomize=True)
    @given(steps=st.lists(edits(), min_size=1, max_size=3))
    def edit_and_revert(steps: list[dict[str, object]]) -> None:
        records = []
        for step in steps:
            answer = api(client, topic_api(topic), dry_run=False, **step)
            assert answer.status_code == 200, answer.content
            if answer.json()["audit_id"] is not None:  # None: nothing to change, no record
                records.append(answer.json()["audit_id"])
        for record in reversed(records):
            answer = api(client, f"/api/audit/{record}/revert/", dry_run=False)
            assert answer.status_code == 200, answer.content
        assert page_overrides(client, topic_api(topic), "topic") == start

    edit_and_revert()
    # Kafka's own tool agrees: every draw ended where it began.
    assert kafka_configs(bootstrap, *topic_entity(topic)) == start
