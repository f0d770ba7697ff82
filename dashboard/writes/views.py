"""Produce and reset pages, their JSON, and the audit trail: validate, call one service, render."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.access.policy import (
    LEGACY_PERMISSIONS,
    Scope,
    cluster_check,
    group_check,
    scope_of,
    topic_check,
)
from dashboard.kafka.errors import GroupNotEmpty, InvalidRequest
from dashboard.kafka.groups.lag import group_detail, group_visible
from dashboard.kafka.offsets import (
    STRATEGIES,
    PlanChanged,
    ResetPlan,
    reset_plan,
)
from dashboard.kafka.partitioner import UNKEYED
from dashboard.kafka.produce import partition_preview, produce_target
from dashboard.web.errors import Problem, json_problem, problem_response
from dashboard.web.jsonutil import to_json
from dashboard.web.permissions import RESET, may, refusal
from dashboard.writes.forms import BulkProduceForm, ProduceForm, reset_request, schema_encoder
from dashboard.writes.services import audit_rows, produce_audited, reset_apply_audited


def _forbidden(request: HttpRequest, permission: str) -> HttpResponse:
    return problem_response(request, Problem(403, "forbidden", refusal(permission)))


def _refused(
    request: HttpRequest,
    scope: Scope,
    action: str,
    cluster: str,
    *,
    topic: str | None = None,
    group: str | None = None,
) -> HttpResponse | None:
    """404 for what the user may not view (raised), 403 for a write not allowed, else None.

    With neither topic nor group the action is on the cluster itself (its brokers)."""
    cluster_check(scope, cluster)
    if topic is not None:
        topic_check(scope, cluster, topic)
    if group is not None:
        group_check(scope, cluster, group)
    if scope.may(action, cluster=cluster, topic=topic, group=group):
        return None
    if scope.rules is None or settings.KAFKAVIEW_READ_ONLY:
        return _forbidden(request, LEGACY_PERMISSIONS[action])
    what = (
        f"topic {topic!r}"
        if topic is not None
        else f"consumer group {group!r}"
        if group is not None
        else f"the brokers of cluster {cluster!r}"
    )
    message = f"You may not {action} on {what}: no access rule of your groups allows it."
    return problem_response(request, Problem(403, "forbidden", message))


@require_http_methods(["GET", "POST"])
def produce(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    scope = scope_of(request.user)
    if refused := _refused(request, scope, "produce", cluster, topic=topic):
        return refused
    target = produce_target(cluster=cluster, topic=topic)
    mode = request.POST.get("mode", "single") if request.method == "POST" else None
    single = ProduceForm(
        request.POST if mode == "single" else None,
        partitions=target.partitions,
        topic=topic,
        encoder=schema_encoder(cluster=cluster, only_topic=topic if scope.limited else None),
    )
    bulk = BulkProduceForm(
        request.POST if mode == "bulk" else None, request.FILES if mode == "bulk" else None
    )
    result = None
    form: ProduceForm | BulkProduceForm | None = (
        single if mode == "single" else bulk if mode == "bulk" else None
    )
    if form is not None and form.is_valid():
        messages = (
            [form.message()] if isinstance(form, ProduceForm) else form.cleaned_data["messages"]
        )
        try:
            result = produce_audited(
                user=request.user,
                cluster=cluster,
                topic=topic,
                messages=messages,
                partitioner=form.cleaned_data["partitioner"],
            )
        except InvalidRequest as exc:
            form.add_error(None, str(exc))
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
    topic_check(scope_of(request.user), cluster, topic)
    key = request.GET.get("key")
    preview = partition_preview(
        cluster=cluster,
        topic=topic,
        key=key.encode() if key else None,
        partitioner=request.GET.get("partitioner", "murmur2"),
    )
    return JsonResponse(to_json(preview))


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


@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    scope = scope_of(request.user)
    if refused := _refused(request, scope, "reset", cluster, group=group):
        return refused
    detail = group_detail(cluster=cluster, group=group)
    if (visible_topic := scope.topic_filter(cluster)) is not None:
        detail = group_visible(detail, visible_topic)
    context: dict[str, object] = {
        "cluster": cluster,
        "group": detail,
        "strategies": STRATEGIES,
        "values": request.POST if request.method == "POST" else request.GET,
    }
    status = 200
    plan: ResetPlan | None = None
    if request.method == "POST":
        action = request.POST.get("action", "preview")
        try:
            if action == "apply":
                params = json.loads(request.POST.get("parameters") or "{}")
                _, outcome, record = reset_apply_audited(
                    visible_topic=scope.topic_filter(cluster),
                    visible_group=scope.group_filter(cluster),
                    user=request.user,
                    cluster=cluster,
                    group=group,
                    request=reset_request(params if isinstance(params, dict) else {}),
                    fingerprint=request.POST.get("fingerprint", ""),
                )
                context.update(outcome=outcome, record=record)
            else:
                wanted_post = reset_request(request.POST)
                plan = reset_plan(
                    cluster=cluster,
                    group=group,
                    request=wanted_post,
                    visible_topic=scope.topic_filter(cluster),
                    visible_group=scope.group_filter(cluster),
                )
        except PlanChanged as exc:
            plan = exc.plan
            context["changed"] = True
            status = 409
        except GroupNotEmpty as exc:
            context["refused"] = str(exc)
            status = 409
        except (InvalidRequest, ValueError, RecursionError) as exc:
            context["error"] = str(exc)[:500]
            status = 400
    if plan is not None:
        context.update(plan=plan, parameters_json=json.dumps(plan.request.parameters()))
    return render(request, "dashboard/reset.html", context, status=status)


@require_http_methods(["POST"])
def api_reset(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    scope = scope_of(request.user)
    if refused := _refused(request, scope, "reset", cluster, group=group):
        return refused
    body = json_body(request)
    dry_run = body.get("dry_run", True)
    wanted = reset_request(body)
    if dry_run:
        planned = reset_plan(
            cluster=cluster,
            group=group,
            request=wanted,
            visible_topic=scope.topic_filter(cluster),
            visible_group=scope.group_filter(cluster),
        )
        return JsonResponse({"dry_run": True, "plan": _plan_json(planned)})
    fingerprint = body.get("fingerprint")
    try:
        plan, outcome, record = reset_apply_audited(
            visible_topic=scope.topic_filter(cluster),
            visible_group=scope.group_filter(cluster),
            user=request.user,
            cluster=cluster,
            group=group,
            request=wanted,
            fingerprint=fingerprint if isinstance(fingerprint, str) and fingerprint else None,
        )
    except PlanChanged as exc:
        return json_problem(Problem(409, "plan_changed", str(exc)), plan=_plan_json(exc.plan))
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


def json_body(request: HttpRequest) -> dict[str, Any]:
    """A write's JSON body: an object whose dry_run, if given, is true or false."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidRequest("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    if not isinstance(body.get("dry_run", True), bool):
        raise InvalidRequest("dry_run must be true or false.")
    return body


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/audit.html",
        {"rows": audit_rows(scope=scope_of(request.user)), "can_reset": may(request.user, RESET)},
    )
