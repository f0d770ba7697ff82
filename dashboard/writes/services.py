"""The audited writes: producing and resetting offsets, each recorded before it is applied.

A record is written before anything changes on the cluster and completed after, so a
crash in between leaves a `started` record; values and header values are never stored.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.models import User as DjangoUser
from django.utils import timezone

from dashboard.kafka.client.shared import shared_forget
from dashboard.kafka.errors import KafkaViewError
from dashboard.kafka.masking import HIDDEN, Masker
from dashboard.kafka.offsets import (
    ResetOutcome,
    ResetPlan,
    ResetRequest,
    reset_apply,
    reset_confirm,
    reset_plan,
)
from dashboard.kafka.produce import OutMessage, ProduceResult, produce_messages
from dashboard.writes.generation import generation_bump
from dashboard.writes.models import AuditRecord

T = TypeVar("T")

User = AbstractBaseUser | AnonymousUser


def audit_start(
    *,
    user: User,
    cluster: str,
    action: str,
    target: str,
    parameters: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> AuditRecord:
    """Write the record of an action about to happen (before anything changes)."""
    return AuditRecord.objects.create(
        user=user if isinstance(user, DjangoUser) and user.pk else None,
        username=user.get_username() if user.is_authenticated else "",
        cluster=cluster,
        action=action,
        target=target,
        parameters=parameters,
        previous=previous or {},
    )


def audit_finish(record: AuditRecord, *, status: str, result: dict[str, Any]) -> None:
    """Complete the record with what happened."""
    record.status = status
    record.result = result
    record.completed_at = timezone.now()
    record.save(update_fields=["status", "result", "completed_at"])


def _outcome_status(failed: int, total: int) -> str:
    if not failed:
        return AuditRecord.Status.DONE
    return AuditRecord.Status.FAILED if failed >= total else AuditRecord.Status.PARTIAL


def produce_summary(
    messages: list[OutMessage], partitioner: str, masker: Masker | None = None
) -> dict[str, object]:
    """What the audit keeps of a produce: never the values, only their shape; keys and
    header names through the topic's masks."""

    def key_text(key: bytes) -> str:
        if masker is not None:
            key = masker.data(key)[0] or b""
        return key.decode("utf-8", "replace")[:100]

    def name_text(name: str) -> str:
        return name if masker is None else masker.text(name)

    return {
        "partitioner": partitioner,
        "messages": len(messages),
        "keys": sorted({key_text(m.key) for m in messages if m.key})[:50],
        "unkeyed": sum(1 for m in messages if m.key is None),
        "chosen_partitions": sorted({m.partition for m in messages if m.partition is not None}),
        "header_names": sorted({name_text(n) for m in messages for n, _ in m.headers})[:50],
        "bytes": sum(m.size() for m in messages),
    }


def _written() -> None:
    shared_forget()
    generation_bump()


def sent_recorded(record: AuditRecord, send: Callable[[], T]) -> T:
    """Run a send whose audit record was written; a send that raises completes it as failed.

    Either way the kept reads are forgotten: some of it may have been written."""
    try:
        result = send()
    except Exception as exc:
        _written()
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)[:500]})
        raise
    _written()
    return result


def produce_audited(
    *, user: User, cluster: str, topic: str, messages: list[OutMessage], partitioner: str
) -> ProduceResult:
    """Record a produce, send the messages, complete the record; Kafka's errors propagate."""
    record = audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.PRODUCE,
        target=topic,
        parameters=produce_summary(messages, partitioner, topic_masker(topic)),
    )
    try:
        result = produce_messages(
            cluster=cluster, topic=topic, messages=messages, partitioner=partitioner
        )
    except KafkaViewError as exc:
        _written()
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
        raise
    _written()  # whoever looks next, through any process, sees what was just written
    audit_finish(
        record,
        status=_outcome_status(result.failed, result.failed + result.delivered),
        result={
            "delivered": result.delivered,
            "failed": result.failed,
            "per_partition": {str(p): n for p, n in result.per_partition.items()},
            "failures": [
                {"line": d.line, "error": d.error} for d in result.deliveries if d.error is not None
            ][:100],
        },
    )
    return result


def reset_audited(*, user: User, plan: ResetPlan) -> tuple[ResetOutcome, AuditRecord]:
    """Record the offsets a reset replaces, apply it, complete the record."""
    record = audit_start(
        user=user,
        cluster=plan.cluster,
        action=AuditRecord.Action.RESET_OFFSETS,
        target=plan.group,
        parameters={**plan.request.parameters(), "fingerprint": plan.fingerprint},
        previous={"offsets": [[r.topic, r.partition, r.current] for r in plan.rows]},
    )
    try:
        outcome = reset_apply(plan=plan)
    except KafkaViewError as exc:
        _written()
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
        raise
    _written()  # whoever looks next, through any process, sees the offsets just moved
    audit_finish(
        record,
        status=_outcome_status(outcome.failed, len(outcome.results)),
        result={"results": [list(r) for r in outcome.results], "failed": outcome.failed},
    )
    return outcome, record


def reset_apply_audited(
    *,
    user: User,
    cluster: str,
    group: str,
    request: ResetRequest,
    fingerprint: str | None,
    visible_topic: Callable[[str], bool] | None = None,
    visible_group: Callable[[str], bool] | None = None,
) -> tuple[ResetPlan, ResetOutcome, AuditRecord]:
    """Plan the reset again and apply it, audited. With a fingerprint, only if the plan is
    still the one previewed (PlanChanged carries the new plan); without, as planned now."""
    if fingerprint is None:
        plan = reset_plan(
            cluster=cluster,
            group=group,
            request=request,
            visible_topic=visible_topic,
            visible_group=visible_group,
        )
    else:
        plan = reset_confirm(
            cluster=cluster,
            group=group,
            request=request,
            fingerprint=fingerprint,
            visible_topic=visible_topic,
            visible_group=visible_group,
        )
    outcome, record = reset_audited(user=user, plan=plan)
    return plan, outcome, record


def audit_rows(*, scope: Any = None, limit: int = 500) -> list[dict[str, Any]]:
    """The newest records (of what the user may view), each with the offsets an undo
    would put back (JSON), if any, and whether it is a config change that can be reverted.

    Read records (tails and searches) of other users are shown to superusers only. A
    scoped viewer sees a reset record's partitions on topics they may view, no others.
    """
    rows = []
    for record in AuditRecord.objects.all()[:limit]:
        if scope is not None and not _shown(scope, record):
            continue
        if scope is not None and scope.limited and record.action in GROUP_ACTIONS:
            _reset_record_scoped(record, functools.partial(scope.sees_topic, record.cluster))
        undo = None
        if (
            record.action in {AuditRecord.Action.RESET_OFFSETS, AuditRecord.Action.DELETE_OFFSETS}
            and record.status != AuditRecord.Status.STARTED
        ):
            back = [o for o in record.previous.get("offsets", []) if o[2] is not None]
            if back:
                undo = json.dumps(back)
        revert = (
            record.action == AuditRecord.Action.CONFIGURE
            and record.status == AuditRecord.Status.DONE
            and bool(record.parameters.get("changes"))
        )
        rows.append({"record": record, "undo": undo, "revert": revert})
    return rows


HIDDEN_NAME = "(hidden)"


def _shown(scope: Any, record: AuditRecord) -> bool:
    """Whether the viewer may see the record at all."""
    if record.action == AuditRecord.Action.READ and not scope.superuser:
        mine = record.user_id is not None and record.user_id == getattr(scope.user, "pk", None)
        if not mine:
            return False
    if not scope.limited:
        return True
    if record.action in GROUP_ACTIONS:
        return bool(scope.sees_group(record.cluster, record.target))
    if record.action == AuditRecord.Action.CONFIGURE and record.parameters.get("resource") in {
        "broker",
        "cluster",
    }:
        return bool(scope.sees_cluster(record.cluster))
    return bool(scope.sees_topic(record.cluster, record.target))


# Records whose target is a consumer group (the others name a topic, or a broker).
GROUP_ACTIONS = frozenset(
    {
        AuditRecord.Action.RESET_OFFSETS,
        AuditRecord.Action.DELETE_GROUP,
        AuditRecord.Action.DELETE_OFFSETS,
    }
)


def _reset_record_scoped(record: AuditRecord, visible: Callable[[str], bool]) -> None:
    """Leave out (in memory, for this page) what a reset record says of hidden topics."""

    def rows(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return [i for i in items if isinstance(i, list) and i and visible(str(i[0]))]

    previous = dict(record.previous or {})
    previous["offsets"] = rows(previous.get("offsets", []))
    record.previous = previous
    parameters = dict(record.parameters or {})
    for key in ("partitions", "offsets"):
        if parameters.get(key):
            parameters[key] = rows(parameters[key])
    if parameters.get("topic") and not visible(str(parameters["topic"])):
        parameters["topic"] = HIDDEN_NAME
    record.parameters = parameters
    result = dict(record.result or {})
    if isinstance(result.get("results"), list):
        result["results"] = rows(result["results"])
    record.result = result


def _masked_text(text: str, masker: Masker | None) -> str:
    """Text a person typed about a masked topic, as the audit may keep it.

    Regex masks apply; with field masks the text may hold a field's value in any form
    (a cvv is three digits), so it is not kept at all (fail closed).
    """
    if masker is None:
        return text
    if masker.json_fields:
        return f"{HIDDEN} hidden: the topic is masked"
    return masker.text(text)


def topic_masker(topic: str) -> Masker | None:
    """The topic's masks (for what is stored: everyone who is not a superuser may read it)."""
    rules = settings.KAFKAVIEW_ACCESS
    return None if rules is None else rules.masker(topic=topic)


def _read_parameters(request: Any, masker: Any) -> dict[str, Any]:
    """Every field of a tail request as the audit keeps it: read from the dataclass, so a
    field added to the request is recorded without a change here; the filter text masked."""
    flt = request.filter
    parameters: dict[str, Any] = {"kind": "search" if request.end is not None else "tail"}
    for spec in dataclasses.fields(request):
        if spec.name not in {"topic", "filter"}:  # the topic is the record's target
            parameters[spec.name] = getattr(request, spec.name)
    if parameters.get("partitions") is not None:
        parameters["partitions"] = list(parameters["partitions"]) or None
    parameters["filter"] = (
        {"text": _masked_text(flt.text, masker), "regex": flt.regex, "on": flt.on}
        if flt.text
        else None
    )
    return parameters


def read_start(*, user: User, cluster: str, topic: str, request: Any) -> AuditRecord:
    """Record that a tail or search began: who, which topic, where, with which filter
    (masked with the topic's masks before it is written)."""
    masker = topic_masker(topic)
    return audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.READ,
        target=topic,
        parameters=_read_parameters(request, masker),
    )


def read_finish(record: AuditRecord, *, stats: Any) -> None:
    """Complete a read record when its tail stops: how much was scanned and sent."""
    audit_finish(
        record,
        status=AuditRecord.Status.DONE,
        result={"consumed": stats.consumed, "matched": stats.matched, "delivered": stats.delivered},
    )
