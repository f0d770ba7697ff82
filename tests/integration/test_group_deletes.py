"""Deleting groups and their committed offsets against the real broker; kafka-consumer-groups
is the judge."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Consumer

from dashboard.writes.models import AuditRecord
from devtools.broker import cli_run
from tests.helpers import CACHE_DIR, unique
from tests.integration.test_group_types import (
    cli_table,
    produce,
    share_earliest,
    share_offsets,
    share_read,
)
from tests.integration.test_reset import commit, kafka_offsets

pytestmark = pytest.mark.django_db


def api(client, path: str, **body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def groups_listed(bootstrap: str) -> set[str]:
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="consumer-groups",
        args=["--bootstrap-server", bootstrap, "--list"],
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.fixture
def committed(kafka_broker, make_topic):
    bootstrap = kafka_broker.bootstrap_servers
    kept, dropped = make_topic("kept", partitions=2), make_topic("dropped", partitions=2)
    group = unique("deletable")
    commit(bootstrap, group, {(kept, 0): 1, (kept, 1): 2, (dropped, 0): 0, (dropped, 1): 0})
    return {"bootstrap": bootstrap, "group": group, "kept": kept, "dropped": dropped}


def test_deleting_a_topics_offsets_leaves_the_others_and_a_reset_undoes_it(
    committed, cluster_admin
) -> None:
    bootstrap, group = committed["bootstrap"], committed["group"]
    kept, dropped = committed["kept"], committed["dropped"]
    path = f"/api/clusters/local/groups/{group}/delete/"
    before = kafka_offsets(bootstrap, group)
    preview = api(cluster_admin, path, dry_run=True, topic=dropped).json()
    assert preview["offsets"] == [
        {"topic": dropped, "partition": 0, "offset": 0},
        {"topic": dropped, "partition": 1, "offset": 0},
    ]
    assert preview["undoable"] is True
    assert kafka_offsets(bootstrap, group) == before
    deleted = api(cluster_admin, path, dry_run=False, topic=dropped)
    assert deleted.status_code == 200, deleted.content
    assert kafka_offsets(bootstrap, group) == {(kept, 0): 1, (kept, 1): 2}
    # Undo: the audit's offsets, committed back by a reset (what the audit page's Undo posts).
    record = AuditRecord.objects.get(pk=deleted.json()["audit_id"])
    assert record.previous["offsets"] == [[dropped, 0, 0], [dropped, 1, 0]]
    undo = api(
        cluster_admin,
        f"/api/clusters/local/groups/{group}/reset/",
        dry_run=False,
        strategy="offsets",
        offsets=record.previous["offsets"],
    )
    assert undo.status_code == 200, undo.content
    assert kafka_offsets(bootstrap, group) == before
    page = cluster_admin.get("/audit/").content.decode()
    assert "Undo" in page


def test_a_group_with_a_live_member_is_refused_and_kept(committed, cluster_admin) -> None:
    bootstrap, group, kept = committed["bootstrap"], committed["group"], committed["kept"]
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    consumer.subscribe([kept])
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert consumer.assignment()
        path = f"/api/clusters/local/groups/{group}/delete/"
        whole = api(cluster_admin, path, dry_run=False)
        assert whole.status_code == 409, whole.content
        assert "active member" in whole.json()["error"]["message"]
        part = api(cluster_admin, path, dry_run=False, topic=kept)
        assert part.status_code == 409
    finally:
        consumer.close()
    assert group in groups_listed(bootstrap)


def test_deleting_an_empty_group_removes_it_from_kafkas_list(committed, cluster_admin) -> None:
    bootstrap, group = committed["bootstrap"], committed["group"]
    path = f"/api/clusters/local/groups/{group}/delete/"
    preview = api(cluster_admin, path, dry_run=True).json()
    assert (preview["members"], len(preview["offsets"]), preview["undoable"]) == (0, 4, False)
    assert group in {row[0] for row in cli_table(bootstrap, "groups", "--list")}
    deleted = api(cluster_admin, path, dry_run=False)
    assert deleted.status_code == 200, deleted.content
    # kafka-groups lists every type (kafka-consumer-groups would not show a share group).
    assert group not in {row[0] for row in cli_table(bootstrap, "groups", "--list")}
    assert api(cluster_admin, path, dry_run=False).status_code == 404
    record = AuditRecord.objects.get(pk=deleted.json()["audit_id"])
    assert len(record.previous["offsets"]) == 4


def test_viewers_may_not_delete_groups(committed, viewer) -> None:
    group = committed["group"]
    answer = api(viewer, f"/api/clusters/local/groups/{group}/delete/", dry_run=False)
    assert answer.status_code == 403
    assert group in groups_listed(committed["bootstrap"])


def test_a_share_groups_offsets_then_the_group_are_deleted_as_kafkas_tool_shows(
    admin, kafka_broker, make_topic, cluster_admin
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = make_topic("shared-jobs")
    group = unique("share-delete")
    share_earliest(admin, group)
    produce(bootstrap, topic, 4)
    consumer = share_read(bootstrap, group, topic, 4)
    path = f"/api/clusters/local/groups/{group}/delete/"
    try:
        assert api(cluster_admin, path, dry_run=False).status_code == 409
    finally:
        consumer.close()
    # A closed share consumer leaves the group at once, but the coordinator may need a moment.
    deadline = time.monotonic() + 30
    while api(cluster_admin, path, dry_run=True).json()["members"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert share_offsets(bootstrap, group)
    offsets = api(cluster_admin, path, dry_run=False, topic=topic)
    assert offsets.status_code == 200, offsets.content
    assert share_offsets(bootstrap, group) == {}
    assert group in {row[0] for row in cli_table(bootstrap, "groups", "--list")}
    deleted = api(cluster_admin, path, dry_run=False)
    assert deleted.status_code == 200, deleted.content
    # kafka-groups lists every type (kafka-consumer-groups would not show a share group).
    assert group not in {row[0] for row in cli_table(bootstrap, "groups", "--list")}
