"""Audited changes to a cluster's shape: configs of topics and brokers (and their revert).

Each is checked against the topic policies before the broker is asked, recorded before it
is applied (with the overrides it replaces, so that it can be undone) and completed after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from dashboard.access.topic_policy import Policies
from dashboard.kafka.errors import InvalidRequest, KafkaViewError
from dashboard.kafka.operate.configs import (
    ConfigChange,
    ConfigPlan,
    Resource,
    config_apply,
    config_confirm,
    config_plan,
    revert_changes,
)
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
    record = audit_start(
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
    )
    try:
        settled = config_apply(plan=plan)
    except KafkaViewError as exc:
        _written()
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
        raise
    _written()
    audit_finish(
        record,
        status=AuditRecord.Status.DONE,
        result={
            "rows": [[r.name, r.op, r.after, r.after_source] for r in plan.rows],
            # False: the broker asked had not shown the change within the request timeout.
            "settled": settled,
        },
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
