"""Audited changes to a cluster's shape: configs of topics and brokers (and their revert),
creating, growing, purging and deleting topics, deleting groups and their offsets.

Each is checked against the topic policies before the broker is asked, recorded before it
is applied (with the overrides it replaces, so that it can be undone) and completed after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings

from dashboard.access.topic_policy import Policies
from dashboard.kafka.errors import GroupNotEmpty, InvalidRequest, KafkaViewError
from dashboard.kafka.groups.lag import Group, group_detail
from dashboard.kafka.groups.share import ShareGroup, SharePartition
from dashboard.kafka.operate.configs import (
    ConfigChange,
    ConfigPlan,
    Resource,
    config_apply,
    config_confirm,
    config_plan,
    revert_changes,
)
from dashboard.kafka.operate.groups import group_delete, offsets_delete, share_offsets_delete
from dashboard.kafka.operate.topics import (
    PartitionPlan,
    PurgePlan,
    PurgePlanChanged,
    TopicSpec,
    leaders_wait,
    partitions_add,
    partitions_plan,
    purge_apply,
    purge_plan,
    topic_create,
    topic_delete,
)
from dashboard.kafka.topics import topic_partition_ids
from dashboard.writes.models import AuditRecord
from dashboard.writes.services import User, _written, audit_finish, audit_start


def policies() -> Policies:
    """The topic policies of the access file (none without one)."""
    rules = settings.KAFKAVIEW_ACCESS
    return Policies() if rules is None else rules.policies


def config_target(resource: Resource) -> str:
    """The audit record's target of a config change: the topic, or broker id / "*"."""
    if resource.kind == "topic":
        return resource.name
    return resource.name if resource.kind == "broker" else "*"


def config_policy_check(plan: ConfigPlan) -> None:
    """PolicyRefused when a topic's overrides, as the plan leaves them, break a policy."""
    if plan.resource.kind == "topic":
        policies().configs_check(
            cluster=plan.cluster, topic=plan.resource.name, configs=plan.overrides_after()
        )


def config_preview(
    *, cluster: str, resource: Resource, changes: Sequence[ConfigChange]
) -> ConfigPlan:
    """The diff of a config change, checked by the policies and by the broker (validate only)."""
    plan = config_plan(cluster=cluster, resource=resource, changes=changes)
    config_policy_check(plan)
    return plan


def configure_audited(
    *,
    user: User,
    cluster: str,
    resource: Resource,
    changes: Sequence[ConfigChange],
    fingerprint: str | None,
    reverts: int | None = None,
) -> tuple[ConfigPlan, AuditRecord | None]:
    """Plan again (ConfigPlanChanged if not the previewed plan), record, apply, complete;
    a plan that changes nothing is not applied nor recorded (no record)."""
    plan = config_confirm(
        cluster=cluster, resource=resource, changes=changes, fingerprint=fingerprint
    )
    config_policy_check(plan)
    if not plan.effective:
        return plan, None  # nothing to do is not a write: no record

    def apply() -> dict[str, Any]:
        settled = config_apply(plan=plan)
        return {
            "rows": [[r.name, r.op, r.after, r.after_source] for r in plan.rows],
            # False: the broker asked had not shown the change within the request timeout.
            "settled": settled,
        }

    record = _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.CONFIGURE,
        target=config_target(resource),
        parameters={
            "resource": resource.kind,
            "name": resource.name,
            "changes": [[c.name, c.value] for c in plan.effective],
            "fingerprint": plan.fingerprint,
            **({"reverts": reverts} if reverts is not None else {}),
        },
        previous={"overrides": plan.overrides},
        apply=apply,
    )
    return plan, record


def config_record(pk: Any) -> AuditRecord:
    """A completed config change of the audit (what a revert starts from)."""
    try:
        record = AuditRecord.objects.get(pk=int(pk), action=AuditRecord.Action.CONFIGURE)
    except (AuditRecord.DoesNotExist, TypeError, ValueError):
        raise InvalidRequest(f"{str(pk)[:30]!r} is not a config change of the audit.") from None
    if record.status != AuditRecord.Status.DONE:
        raise InvalidRequest(f"Config change {record.pk} did not complete: nothing to revert.")
    return record


def record_resource(record: AuditRecord) -> Resource:
    """The resource a config record changed."""
    parameters = record.parameters or {}
    return Resource(parameters.get("resource", "topic"), str(parameters.get("name", "")))


def revert_of(record: AuditRecord) -> tuple[Resource, tuple[ConfigChange, ...]]:
    """What undoes a config change: each key it touched back to its old override, or none."""
    touched = [str(c[0]) for c in (record.parameters or {}).get("changes", [])]
    if not touched:
        raise InvalidRequest(f"Config change {record.pk} changed nothing: nothing to revert.")
    overrides = (record.previous or {}).get("overrides", {})
    return record_resource(record), revert_changes(overrides=overrides, touched=touched)


def confirm_check(topic: str, typed: object) -> None:
    """InvalidRequest unless the topic's name was typed in (for what cannot be undone)."""
    if typed != topic:
        raise InvalidRequest(f"This cannot be undone: type the topic's name ({topic}) to confirm.")


def _audited(
    *,
    user: User,
    cluster: str,
    action: str,
    target: str,
    parameters: dict[str, Any],
    apply: Callable[[], dict[str, Any]],
    previous: dict[str, Any] | None = None,
) -> AuditRecord:
    """Record, run `apply` (its answer is the record's result), complete: the write path."""
    record = audit_start(
        user=user,
        cluster=cluster,
        action=action,
        target=target,
        parameters=parameters,
        previous=previous,
    )
    try:
        result = apply()
    except KafkaViewError as exc:
        _written()
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
        raise
    _written()
    failed = result.pop("_failed", 0)
    status = AuditRecord.Status.PARTIAL if failed else AuditRecord.Status.DONE
    audit_finish(record, status=status, result=result)
    return record


def create_check(*, cluster: str, spec: TopicSpec) -> None:
    """Our checks, then the policies, then the broker's (validate only): nothing is created."""
    spec.check()
    policies().create_check(
        cluster=cluster,
        topic=spec.name,
        partitions=spec.partitions,
        replication_factor=spec.replication_factor,
        configs=spec.configs,
    )
    topic_create(cluster=cluster, spec=spec, validate_only=True)


def create_audited(*, user: User, cluster: str, spec: TopicSpec) -> AuditRecord:
    """Check the topic as the preview did, record, create it, wait for its leaders."""
    create_check(cluster=cluster, spec=spec)

    def apply() -> dict[str, Any]:
        topic_create(cluster=cluster, spec=spec, validate_only=False)
        led = leaders_wait(cluster=cluster, topic=spec.name, partitions=spec.partitions)
        return {"led": led}

    return _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.CREATE_TOPIC,
        target=spec.name,
        parameters={
            "partitions": spec.partitions,
            "replication_factor": spec.replication_factor,
            "configs": spec.configs,
        },
        apply=apply,
    )


def partitions_preview(*, cluster: str, topic: str, count: int) -> PartitionPlan:
    """What growing the topic does to keyed data, checked by the policies and the broker."""
    policies().partitions_check(cluster=cluster, topic=topic, partitions=count)
    plan = partitions_plan(cluster=cluster, topic=topic, count=count)
    partitions_add(cluster=cluster, topic=topic, count=count, validate_only=True)
    return plan


def partitions_audited(*, user: User, cluster: str, topic: str, count: int) -> AuditRecord:
    """Check again, record, add the partitions."""
    before = len(topic_partition_ids(cluster=cluster, topic=topic))
    if count <= before:
        raise InvalidRequest(f"Topic {topic!r} has {before} partitions: give more than {before}.")
    policies().partitions_check(cluster=cluster, topic=topic, partitions=count)

    def apply() -> dict[str, Any]:
        partitions_add(cluster=cluster, topic=topic, count=count)
        return {"led": leaders_wait(cluster=cluster, topic=topic, partitions=count)}

    return _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.ADD_PARTITIONS,
        target=topic,
        parameters={"partitions": count},
        previous={"partitions": before},
        apply=apply,
    )


def purge_audited(
    *, user: User, cluster: str, plan: PurgePlan, fingerprint: str | None
) -> tuple[PurgePlan, AuditRecord]:
    """Plan again (PurgePlanChanged if not the previewed plan), record, delete the records."""
    now = purge_plan(
        cluster=cluster,
        topic=plan.topic,
        mode=plan.mode,
        value=plan.value,
        partitions=[r.partition for r in plan.rows],
    )
    if fingerprint is not None and now.fingerprint != fingerprint:
        raise PurgePlanChanged(now)

    def apply() -> dict[str, Any]:
        done = purge_apply(plan=now)
        failed = sum(1 for v in done.values() if isinstance(v, str))
        return {"low_watermarks": {str(p): v for p, v in done.items()}, "_failed": failed}

    record = _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.PURGE,
        target=now.topic,
        parameters={
            "mode": now.mode,
            "value": now.value,
            "partitions": [r.partition for r in now.rows],
            "removed": now.removed,
        },
        previous={"low_watermarks": {str(r.partition): r.low for r in now.rows}},
        apply=apply,
    )
    return now, record


def delete_topic_audited(*, user: User, cluster: str, topic: str) -> AuditRecord:
    """Record, delete the topic (the partitions and configs it had are kept in the record)."""
    ids = topic_partition_ids(cluster=cluster, topic=topic)

    def apply() -> dict[str, Any]:
        topic_delete(cluster=cluster, topic=topic)
        return {}

    return _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.DELETE_TOPIC,
        target=topic,
        parameters={},
        previous={"partitions": len(ids)},
        apply=apply,
    )


def group_offsets(detail: Group | ShareGroup, topic: str | None = None) -> list[list[Any]]:
    """[topic, partition, offset] the group has (committed, or a share group's start)."""
    rows = []
    for p in detail.partitions:
        offset = p.start_offset if isinstance(p, SharePartition) else p.committed_offset
        if offset is not None and (topic is None or p.topic == topic):
            rows.append([p.topic, p.partition, offset])
    return rows


def group_live_check(detail: Group | ShareGroup) -> None:
    """GroupNotEmpty while the group has members (Kafka would refuse, or they would commit)."""
    if detail.members:
        names = ", ".join(m.client_id for m in detail.members[:5])
        raise GroupNotEmpty(
            f"Group {detail.group!r} has {len(detail.members)} active member(s) ({names}): "
            "stop its consumers first."
        )


def delete_group_audited(*, user: User, cluster: str, group: str) -> AuditRecord:
    """Record the group's offsets, delete the group (any type): refused while it has members."""
    detail = group_detail(cluster=cluster, group=group)
    group_live_check(detail)

    def apply() -> dict[str, Any]:
        group_delete(cluster=cluster, group=group)
        return {}

    return _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.DELETE_GROUP,
        target=group,
        parameters={"type": detail.type},
        previous={"offsets": group_offsets(detail)},
        apply=apply,
    )


def delete_offsets_audited(
    *, user: User, cluster: str, group: str, topic: str
) -> tuple[list[list[Any]], AuditRecord]:
    """Record the group's offsets on the topic, delete them; undone by a reset to them."""
    detail = group_detail(cluster=cluster, group=group)
    group_live_check(detail)
    rows = group_offsets(detail, topic)
    if not rows:
        raise InvalidRequest(f"Group {group!r} has no committed offsets on topic {topic!r}.")

    def apply() -> dict[str, Any]:
        if isinstance(detail, ShareGroup):
            share_offsets_delete(cluster=cluster, group=group, topic=topic)
            return {}
        errors = offsets_delete(
            cluster=cluster, group=group, topic=topic, partitions=[r[1] for r in rows]
        )
        failed = {str(p): e for p, e in errors.items() if e}
        return {"errors": failed, "_failed": len(failed)}

    record = _audited(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.DELETE_OFFSETS,
        target=group,
        parameters={"topic": topic, "type": detail.type},
        previous={"offsets": rows},
        apply=apply,
    )
    return rows, record
