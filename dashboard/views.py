"""Thin views: validate, call one kafka-layer function, render or answer JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.audit import audit_finish, audit_start
from dashboard.forms import BulkProduceForm, ProduceForm, reset_request
from dashboard.history import (
    RANGES,
    group_events,
    group_list_rows,
    group_partitions_health,
    range_minutes,
    sampler_state,
    worst,
)
from dashboard.jsonutil import to_json
from dashboard.kafka.clusters import cluster_config, cluster_overview, clusters_all
from dashboard.kafka.errors import GroupNotEmpty, InvalidRequest, KafkaViewError
from dashboard.kafka.groups import Group, group_detail, group_list, topic_groups
from dashboard.kafka.lagtime import message_times
from dashboard.kafka.offsets import (
    STRATEGIES,
    PlanChanged,
    ResetOutcome,
    ResetPlan,
    reset_apply,
    reset_confirm,
    reset_plan,
)
from dashboard.kafka.partitioner import UNKEYED
from dashboard.kafka.produce import OutMessage, partition_preview, produce_messages, produce_target
from dashboard.kafka.topics import topic_detail, topic_list, topic_partition_ids
from dashboard.listing import apply, list_query
from dashboard.middleware import wants_json
from dashboard.models import AuditRecord
from dashboard.permissions import PRODUCE, RESET, may, refusal


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:overview", cluster=clusters_all().default)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    # Liveness only: answers without touching Kafka or the database.
    return JsonResponse({"status": "ok"})


@require_GET
def overview(request: HttpRequest, cluster: str) -> HttpResponse:
    data = cluster_overview(cluster=cluster)
    config = cluster_config(cluster=cluster)
    return render(
        request,
        "dashboard/overview.html",
        {"overview": data, "config": config, "settings_shown": config.public_settings()},
    )


@require_GET
def api_overview(request: HttpRequest, cluster: str) -> HttpResponse:
    return JsonResponse(to_json(cluster_overview(cluster=cluster)))


TOPIC_FIELDS = ("name", "partitions", "replication_factor", "messages", "under_replicated")
GROUP_FIELDS = (
    "group",
    "state",
    "type",
    "members",
    "topics",
    "total_lag",
    "max_lag",
    "status_rank",
    "lag_seconds_estimate",
)


def _wants_internal(request: HttpRequest) -> bool:
    return request.GET.get("internal", "") in {"1", "true", "yes", "on"}


@require_GET
def topics(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=TOPIC_FIELDS, default="name")
    data = topic_list(cluster=cluster, include_internal=_wants_internal(request))
    rows = apply(data.topics, query, name_field="name")
    return render(
        request,
        "dashboard/topics.html",
        {
            "data": data,
            "rows": rows,
            "query": query,
            "internal": _wants_internal(request),
            "cluster": cluster,
        },
    )


@require_GET
def api_topics(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=TOPIC_FIELDS, default="name")
    data = topic_list(cluster=cluster, include_internal=_wants_internal(request))
    rows = apply(data.topics, query, name_field="name")
    return JsonResponse(
        {"cluster": cluster, "read_at": to_json(data.read_at), "topics": to_json(rows)}
    )


@require_GET
def topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    detail = topic_detail(cluster=cluster, topic=topic)
    consuming = topic_groups(cluster=cluster, topic=topic)
    return render(
        request,
        "dashboard/topic.html",
        {
            "topic": detail,
            "groups": consuming,
            "cluster": cluster,
            "can_produce": may(request.user, PRODUCE),
            "ranges": RANGES,
            "range": range_minutes(request.GET.get("range"))[0],
        },
    )


@require_GET
def api_topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    detail = topic_detail(cluster=cluster, topic=topic)
    consuming = topic_groups(cluster=cluster, topic=topic)
    return JsonResponse({**to_json(detail), "groups": to_json(consuming)})


@require_GET
def groups(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=GROUP_FIELDS, default="group")
    data = group_list(cluster=cluster)
    rows = apply(group_list_rows(cluster=cluster, summaries=data.groups), query, name_field="group")
    return render(
        request,
        "dashboard/groups.html",
        {
            "data": data,
            "rows": rows,
            "query": query,
            "cluster": cluster,
            "sampler": sampler_state(cluster=cluster),
        },
    )


@require_GET
def api_groups(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=GROUP_FIELDS, default="group")
    data = group_list(cluster=cluster)
    rows = apply(group_list_rows(cluster=cluster, summaries=data.groups), query, name_field="group")
    return JsonResponse(
        {
            "cluster": cluster,
            "read_at": to_json(data.read_at),
            "groups": [r.as_json() for r in rows],
            "sampler": to_json(sampler_state(cluster=cluster)),
        }
    )


def _group_rows(cluster: str, detail: Group) -> tuple[list[dict[str, object]], str]:
    """Each partition with its exact lag seconds, last commit and sampled verdict."""
    behind = {
        (p.topic, p.partition): p.committed_offset
        for p in detail.partitions
        if p.lag and p.committed_offset is not None
    }
    times = message_times(cluster=cluster, positions=behind)
    health = group_partitions_health(cluster=cluster, group=detail.group)
    now = datetime.now(UTC)
    rows = []
    for p in detail.partitions:
        key = (p.topic, p.partition)
        found, sampled = times.get(key), health.get(key)
        rows.append(
            {
                **to_json(p),
                "p": p,
                # Exact: the age of the first message the group has not consumed.
                "lag_seconds": max((now.timestamp() * 1000 - found.timestamp_ms) / 1000, 0.0)
                if found
                else (0.0 if p.lag == 0 else None),
                "first_unconsumed_timestamp": datetime.fromtimestamp(found.timestamp_ms / 1000, UTC)
                if found
                else None,
                "timestamp_type": found.timestamp_type if found else None,
                "status": sampled.status if sampled else "",
                "lag_seconds_estimate": sampled.lag_seconds if sampled else None,
                "last_commit_at": sampled.last_commit_at if sampled else None,
                "sampled_at": sampled.at if sampled else None,
            }
        )
    return rows, worst([r["status"] for r in rows if r["status"]])


@require_GET
def group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    detail = group_detail(cluster=cluster, group=group)
    rows, status = _group_rows(cluster, detail)
    range_name, _ = range_minutes(request.GET.get("range"))
    return render(
        request,
        "dashboard/group.html",
        {
            "group": detail,
            "rows": rows,
            "status": status,
            "oldest": max(
                (r["lag_seconds"] for r in rows if r["lag_seconds"] is not None), default=None
            ),
            "events": group_events(cluster=cluster, group=group),
            "sampler": sampler_state(cluster=cluster),
            "ranges": RANGES,
            "range": range_name,
            "cluster": cluster,
            "can_reset": may(request.user, RESET),
        },
    )


@require_GET
def api_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    detail = group_detail(cluster=cluster, group=group)
    rows, status = _group_rows(cluster, detail)
    for row in rows:
        del row["p"]
    return JsonResponse(
        {
            **to_json(detail),
            "partitions": to_json(rows),
            "status": status,
            "sampler": to_json(sampler_state(cluster=cluster)),
        }
    )


@require_GET
def tail(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    partitions = topic_partition_ids(cluster=cluster, topic=topic)
    chosen = request.GET.getlist("partition")
    return render(
        request,
        "dashboard/tail.html",
        {
            "cluster": cluster,
            "topic": topic,
            "partitions": partitions,
            "chosen": {p for p in partitions if str(p) in chosen},
            "start": request.GET.get("start", "latest"),
            "offset": request.GET.get("offset", ""),
            "autostart": request.GET.get("autostart") == "1",
        },
    )


def _forbidden(request: HttpRequest, permission: str) -> HttpResponse:
    message = refusal(permission)
    if wants_json(request):
        return JsonResponse({"error": {"type": "forbidden", "message": message}}, status=403)
    return render(
        request,
        "dashboard/error.html",
        {"error": {"message": message}, "status": 403},
        status=403,
    )


def _produce_summary(messages: list[OutMessage], partitioner: str) -> dict[str, object]:
    # What the audit keeps of a produce: never the values, only their shape.
    return {
        "partitioner": partitioner,
        "messages": len(messages),
        "keys": sorted({m.key.decode("utf-8", "replace")[:100] for m in messages if m.key})[:50],
        "unkeyed": sum(1 for m in messages if m.key is None),
        "chosen_partitions": sorted({m.partition for m in messages if m.partition is not None}),
        "header_names": sorted({n for m in messages for n, _ in m.headers})[:50],
        "bytes": sum(m.size() for m in messages),
    }


@require_http_methods(["GET", "POST"])
def produce(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    if not may(request.user, PRODUCE):
        return _forbidden(request, PRODUCE)
    target = produce_target(cluster=cluster, topic=topic)
    mode = request.POST.get("mode", "single") if request.method == "POST" else None
    single = ProduceForm(request.POST if mode == "single" else None, partitions=target.partitions)
    bulk = BulkProduceForm(
        request.POST if mode == "bulk" else None, request.FILES if mode == "bulk" else None
    )
    result = None
    form = single if mode == "single" else bulk if mode == "bulk" else None
    if form is not None and form.is_valid():
        if isinstance(form, ProduceForm):
            messages = [form.message()]
        else:
            messages = form.cleaned_data["messages"]
        partitioner = form.cleaned_data["partitioner"]
        record = audit_start(
            user=request.user,
            cluster=cluster,
            action=AuditRecord.Action.PRODUCE,
            target=topic,
            parameters=_produce_summary(messages, partitioner),
        )
        try:
            result = produce_messages(
                cluster=cluster, topic=topic, messages=messages, partitioner=partitioner
            )
        except InvalidRequest as exc:
            audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
            form.add_error(None, str(exc))
        except KafkaViewError as exc:
            audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
            raise
        else:
            status = (
                AuditRecord.Status.DONE
                if not result.failed
                else AuditRecord.Status.FAILED
                if not result.delivered
                else AuditRecord.Status.PARTIAL
            )
            audit_finish(
                record,
                status=status,
                result={
                    "delivered": result.delivered,
                    "failed": result.failed,
                    "per_partition": {str(p): n for p, n in result.per_partition.items()},
                    "failures": [
                        {"line": d.line, "error": d.error}
                        for d in result.deliveries
                        if d.error is not None
                    ][:100],
                },
            )
    return render(
        request,
        "dashboard/produce.html",
        {
            "cluster": cluster,
            "topic": topic,
            "target": target,
            "single": single,
            "bulk": bulk,
            "mode": mode or "single",
            "result": result,
            "unkeyed": UNKEYED,
        },
        status=400 if form is not None and form.errors else 200,
    )


@require_GET
def api_partition_preview(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    key = request.GET.get("key")
    preview = partition_preview(
        cluster=cluster,
        topic=topic,
        key=key.encode() if key else None,
        partitioner=request.GET.get("partitioner", "murmur2"),
    )
    return JsonResponse(to_json(preview))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for addresses that match nothing: JSON under /api/, a page elsewhere."""
    if wants_json(request):
        return JsonResponse(
            {"error": {"type": "not_found", "message": "There is nothing at this address."}},
            status=404,
        )
    return render(request, "404.html", status=404)


def _plan_json(plan: ResetPlan) -> dict[str, object]:
    return {
        "cluster": plan.cluster,
        "group": plan.group,
        "state": plan.state,
        "request": plan.request.parameters(),
        "fingerprint": plan.fingerprint,
        "notes": list(plan.notes),
        "rows": to_json(plan.rows),
    }


def _apply(request: HttpRequest, plan: ResetPlan) -> tuple[ResetOutcome, AuditRecord]:
    """Record the offsets a reset replaces, apply it, complete the record."""
    record = audit_start(
        user=request.user,
        cluster=plan.cluster,
        action=AuditRecord.Action.RESET_OFFSETS,
        target=plan.group,
        parameters={**plan.request.parameters(), "fingerprint": plan.fingerprint},
        previous={"offsets": [[r.topic, r.partition, r.current] for r in plan.rows]},
    )
    try:
        outcome = reset_apply(plan=plan)
    except KafkaViewError as exc:
        audit_finish(record, status=AuditRecord.Status.FAILED, result={"error": str(exc)})
        raise
    failed = outcome.failed
    audit_finish(
        record,
        status=AuditRecord.Status.DONE
        if not failed
        else AuditRecord.Status.FAILED
        if failed == len(outcome.results)
        else AuditRecord.Status.PARTIAL,
        result={"results": [list(r) for r in outcome.results], "failed": failed},
    )
    return outcome, record


@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    if not may(request.user, RESET):
        return _forbidden(request, RESET)
    detail = group_detail(cluster=cluster, group=group)
    context: dict[str, object] = {
        "cluster": cluster,
        "group": detail,
        "strategies": STRATEGIES,
        "values": request.POST if request.method == "POST" else request.GET,
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "preview")
        try:
            if action == "apply":
                params = json.loads(request.POST.get("parameters") or "{}")
                wanted = reset_request(params if isinstance(params, dict) else {})
                plan = reset_confirm(
                    cluster=cluster,
                    group=group,
                    request=wanted,
                    fingerprint=request.POST.get("fingerprint", ""),
                )
                outcome, record = _apply(request, plan)
                context.update(outcome=outcome, record=record)
            else:
                wanted = reset_request(request.POST)
                context["plan"] = reset_plan(cluster=cluster, group=group, request=wanted)
        except PlanChanged as exc:
            context.update(plan=exc.plan, changed=True)
            status = 409
        except GroupNotEmpty as exc:
            context["refused"] = str(exc)
            status = 409
        except (InvalidRequest, ValueError) as exc:
            context["error"] = str(exc)
            status = 400
    if "plan" in context:
        context["parameters_json"] = json.dumps(context["plan"].request.parameters())  # type: ignore[union-attr]
    return render(request, "dashboard/reset.html", context, status=status)


@require_http_methods(["POST"])
def api_reset(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    if not may(request.user, RESET):
        return _forbidden(request, RESET)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidRequest("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise InvalidRequest("dry_run must be true or false.")
    wanted = reset_request(body)
    if dry_run:
        return JsonResponse(
            {
                "dry_run": True,
                "plan": _plan_json(reset_plan(cluster=cluster, group=group, request=wanted)),
            }
        )
    fingerprint = body.get("fingerprint")
    try:
        if isinstance(fingerprint, str) and fingerprint:
            plan = reset_confirm(
                cluster=cluster, group=group, request=wanted, fingerprint=fingerprint
            )
        else:
            plan = reset_plan(cluster=cluster, group=group, request=wanted)
    except PlanChanged as exc:
        return JsonResponse(
            {"error": {"type": "plan_changed", "message": str(exc)}, "plan": _plan_json(exc.plan)},
            status=409,
        )
    outcome, record = _apply(request, plan)
    return JsonResponse(
        {
            "dry_run": False,
            "plan": _plan_json(plan),
            "audit_id": record.pk,
            "results": [
                {"topic": t, "partition": p, "offset": o, "error": e}
                for t, p, o, e in outcome.results
            ],
            "failed": outcome.failed,
        },
        status=200 if not outcome.failed else 207,
    )


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    records = AuditRecord.objects.all()[:500]
    rows = []
    for r in records:
        undo = None
        if r.action == AuditRecord.Action.RESET_OFFSETS and r.status != AuditRecord.Status.STARTED:
            back = [o for o in r.previous.get("offsets", []) if o[2] is not None]
            if back:
                undo = json.dumps(back)
        rows.append({"record": r, "undo": undo})
    return render(
        request, "dashboard/audit.html", {"rows": rows, "can_reset": may(request.user, RESET)}
    )
