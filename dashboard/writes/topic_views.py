"""Pages and JSON that create, grow, purge and delete topics, and delete groups or their
offsets: preview first, then confirm."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from dashboard.access.policy import Scope, group_check, scope_of, topic_check
from dashboard.access.topic_policy import PolicyRefused
from dashboard.kafka.errors import GroupNotEmpty, InvalidRequest
from dashboard.kafka.groups.lag import group_detail, group_visible, topic_groups
from dashboard.kafka.numbers import timestamp_ms, whole_number
from dashboard.kafka.operate.topics import (
    PURGE_MODES,
    PartitionPlan,
    PurgePlan,
    PurgePlanChanged,
    TopicSpec,
    configs_parse,
    purge_plan,
)
from dashboard.kafka.topics import topic_detail
from dashboard.web.errors import Problem, json_problem
from dashboard.web.jsonutil import to_json
from dashboard.writes.operate import (
    confirm_check,
    create_audited,
    create_check,
    delete_group_audited,
    delete_offsets_audited,
    delete_topic_audited,
    group_offsets,
    partitions_audited,
    partitions_preview,
    purge_audited,
)
from dashboard.writes.operate_views import lines_config
from dashboard.writes.views import _refused, json_body


def spec_of(data: Any) -> TopicSpec:
    """The topic to create from a JSON body or a form."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("Give the topic a name.")
    return TopicSpec(
        name=name.strip(),
        partitions=whole_number(data.get("partitions", 1), "partitions", minimum=1),
        replication_factor=whole_number(
            data.get("replication_factor", 1), "replication_factor", minimum=1
        ),
        configs=configs_parse(data.get("configs")),
    )


def _spec_json(spec: TopicSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "partitions": spec.partitions,
        "replication_factor": spec.replication_factor,
        "configs": spec.configs,
    }


def _policy_problem(exc: PolicyRefused) -> HttpResponse:
    return json_problem(
        Problem(422, "policy_refused", str(exc), {"policy": exc.policy, "rule": exc.rule})
    )


@require_http_methods(["POST"])
def api_create_topic(request: HttpRequest, cluster: str) -> HttpResponse:
    body = json_body(request)
    spec = spec_of(body)
    spec.check()  # a name that is not a topic name is a 400 before scope is asked
    if refused := _refused(request, scope_of(request.user), "create", cluster, topic=spec.name):
        return refused
    try:
        if body.get("dry_run", True):
            create_check(cluster=cluster, spec=spec)
            return JsonResponse({"dry_run": True, "topic": _spec_json(spec)})
        record = create_audited(user=request.user, cluster=cluster, spec=spec)
    except PolicyRefused as exc:
        return _policy_problem(exc)
    return JsonResponse(
        {"dry_run": False, "topic": _spec_json(spec), "audit_id": record.pk}, status=201
    )


def _partitions_json(plan: PartitionPlan) -> dict[str, Any]:
    out: dict[str, Any] = to_json(plan)
    out["ordering"] = ordering_note(plan)
    return out


def ordering_note(plan: PartitionPlan) -> str:
    """What a partition increase means for the order of keyed records."""
    return (
        f"After the change a key hashes modulo {plan.after} instead of {plan.before}: the "
        "keys that move write their new records to another partition, so a consumer may "
        "see a key's new records before its old ones (order per key holds only within a "
        "partition). Partitions cannot be removed again: this cannot be undone."
    )


@require_http_methods(["POST"])
def api_partitions(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    if refused := _refused(request, scope_of(request.user), "configure", cluster, topic=topic):
        return refused
    body = json_body(request)
    count = whole_number(body.get("count"), "count", minimum=1)
    try:
        if body.get("dry_run", True):
            plan = partitions_preview(cluster=cluster, topic=topic, count=count)
            return JsonResponse({"dry_run": True, "plan": _partitions_json(plan)})
        confirm_check(topic, body.get("confirm"))
        record = partitions_audited(user=request.user, cluster=cluster, topic=topic, count=count)
    except PolicyRefused as exc:
        return _policy_problem(exc)
    return JsonResponse({"dry_run": False, "partitions": count, "audit_id": record.pk})


def purge_request(data: Any, cluster: str, topic: str) -> PurgePlan:
    """A purge plan from a JSON body or a form: mode, value, partitions."""
    mode = str(data.get("mode", ""))
    raw = data.get("value")
    value = None
    if mode == "offset":
        value = whole_number(raw, "value", minimum=0)
    elif mode == "timestamp":
        value = timestamp_ms(raw)
    partitions = data.get("partitions")
    if isinstance(partitions, str):
        partitions = [p for p in partitions.replace(",", " ").split() if p]
    if partitions is not None and not isinstance(partitions, list):
        raise InvalidRequest("partitions must be a list of partition numbers.")
    chosen = [whole_number(p, "partition", minimum=0) for p in partitions or []]
    return purge_plan(cluster=cluster, topic=topic, mode=mode, value=value, partitions=chosen)


def _purge_json(plan: PurgePlan) -> dict[str, Any]:
    return {
        "topic": plan.topic,
        "mode": plan.mode,
        "value": plan.value,
        "fingerprint": plan.fingerprint,
        "removed": plan.removed,
        "rows": [{**vars(r), "removed": r.removed} for r in plan.rows],
    }


@require_http_methods(["POST"])
def api_purge(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    if refused := _refused(request, scope_of(request.user), "delete", cluster, topic=topic):
        return refused
    body = json_body(request)
    plan = purge_request(body, cluster, topic)
    if body.get("dry_run", True):
        return JsonResponse({"dry_run": True, "plan": _purge_json(plan)})
    confirm_check(topic, body.get("confirm"))
    fingerprint = body.get("fingerprint")
    try:
        done, record = purge_audited(
            user=request.user,
            cluster=cluster,
            plan=plan,
            fingerprint=fingerprint if isinstance(fingerprint, str) and fingerprint else None,
        )
    except PurgePlanChanged as exc:
        return json_problem(Problem(409, "plan_changed", str(exc)), plan=_purge_json(exc.plan))
    return JsonResponse(
        {
            "dry_run": False,
            "plan": _purge_json(done),
            "audit_id": record.pk,
            "low_watermarks": record.result.get("low_watermarks", {}),
        },
        status=207 if record.status == "partial" else 200,
    )


def consumers_of(cluster: str, topic: str, request: HttpRequest) -> list[dict[str, Any]]:
    """The groups that still consume the topic (that the user may see)."""
    scope = scope_of(request.user)
    return [
        {"group": g.group, "state": g.state, "members": g.members, "lag": g.total_lag}
        for g in topic_groups(cluster=cluster, topic=topic)
        if scope.sees_group(cluster, g.group)
    ]


@require_http_methods(["POST"])
def api_delete_topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    if refused := _refused(request, scope_of(request.user), "delete", cluster, topic=topic):
        return refused
    body = json_body(request)
    consumers = consumers_of(cluster, topic, request)
    if body.get("dry_run", True):
        detail = topic_detail(cluster=cluster, topic=topic)
        return JsonResponse(
            {
                "dry_run": True,
                "topic": topic,
                "partitions": len(detail.partitions),
                "messages": detail.messages,
                "consumers": consumers,
            }
        )
    confirm_check(topic, body.get("confirm"))
    record = delete_topic_audited(user=request.user, cluster=cluster, topic=topic)
    return JsonResponse({"dry_run": False, "topic": topic, "audit_id": record.pk})


# Pages: a form, its preview, the confirmation, each through the same calls as the JSON.


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, f"dashboard/{template}", context, status=status)


@require_http_methods(["GET", "POST"])
def create_topic(request: HttpRequest, cluster: str) -> HttpResponse:
    context: dict[str, Any] = {"cluster": cluster, "values": request.POST}
    status = 200
    if request.method == "POST":
        try:
            data = {
                "name": request.POST.get("name", ""),
                "partitions": request.POST.get("partitions", "1"),
                "replication_factor": request.POST.get("replication_factor", "1"),
                "configs": lines_config(request.POST.get("configs", "")),
            }
            spec = spec_of(data)
            spec.check()
            if refused := _refused(
                request, scope_of(request.user), "create", cluster, topic=spec.name
            ):
                return refused
            if request.POST.get("action") == "apply":
                context["record"] = create_audited(user=request.user, cluster=cluster, spec=spec)
                status = 201
            else:
                create_check(cluster=cluster, spec=spec)
                context["preview"] = spec
        except PolicyRefused as exc:
            context["error"], status = str(exc), 422
        except InvalidRequest as exc:
            context["error"], status = str(exc)[:500], 400
    return _page(request, "create_topic.html", context, status)


@require_http_methods(["GET", "POST"])
def topic_change(request: HttpRequest, cluster: str, topic: str, kind: str) -> HttpResponse:
    """The page of one change to a topic: partitions, purge or delete."""
    action = "configure" if kind == "partitions" else "delete"
    scope = scope_of(request.user)
    if request.method == "POST" and (
        refused := _refused(request, scope, action, cluster, topic=topic)
    ):
        return refused
    topic_check(scope, cluster, topic)
    detail = topic_detail(cluster=cluster, topic=topic)
    context: dict[str, Any] = {
        "cluster": cluster,
        "topic": detail,
        "kind": kind,
        "values": request.POST,
        "modes": PURGE_MODES,
        "may": scope.may(action, cluster=cluster, topic=topic),
    }
    status = 200
    if request.method == "POST":
        apply = request.POST.get("action") == "apply"
        typed = request.POST.get("confirm", "").strip()
        try:
            # The preview is made again before the confirmation is checked, so a wrong
            # name shows it once more beside the error.
            if kind == "partitions":
                count = whole_number(request.POST.get("count"), "count", minimum=1)
                if not apply or typed != topic:
                    plan = partitions_preview(cluster=cluster, topic=topic, count=count)
                    context.update(plan=plan, ordering=ordering_note(plan))
                if apply:
                    confirm_check(topic, typed)
                    context["record"] = partitions_audited(
                        user=request.user, cluster=cluster, topic=topic, count=count
                    )
            elif kind == "purge":
                wanted = purge_request(request.POST, cluster, topic)
                context["purge"] = wanted
                if apply:
                    confirm_check(topic, typed)
                    done, record = purge_audited(
                        user=request.user,
                        cluster=cluster,
                        plan=wanted,
                        fingerprint=request.POST.get("fingerprint") or None,
                    )
                    context.update(record=record, purge=done)
            else:
                context["consumers"] = consumers_of(cluster, topic, request)
                context["preview"] = True
                if apply:
                    confirm_check(topic, typed)
                    context["record"] = delete_topic_audited(
                        user=request.user, cluster=cluster, topic=topic
                    )
                    context["preview"] = False
        except PurgePlanChanged as exc:
            context.update(purge=exc.plan, changed=True)
            status = 409
        except PolicyRefused as exc:
            context["error"], status = str(exc), 422
        except InvalidRequest as exc:
            context["error"], status = str(exc)[:500], 400
    elif kind == "delete":
        context["consumers"] = consumers_of(cluster, topic, request)
    return _page(request, "topic_change.html", context, status)


def _visible_detail(scope: Scope, cluster: str, group: str) -> Any:
    """The group as the user may see it (partitions of hidden topics left out)."""
    detail = group_detail(cluster=cluster, group=group)
    if (visible := scope.topic_filter(cluster)) is not None:
        detail = group_visible(detail, visible)
    return detail


def _group_offsets_json(rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [{"topic": t, "partition": p, "offset": o} for t, p, o in rows]


@require_http_methods(["POST"])
def api_delete_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    """Delete an empty group (dry_run: what it has); {"topic": t} deletes only its offsets
    on that topic."""
    scope = scope_of(request.user)
    if refused := _refused(request, scope, "delete", cluster, group=group):
        return refused
    body = json_body(request)
    topic = body.get("topic")
    if topic is not None and not isinstance(topic, str):
        raise InvalidRequest("topic must be a topic name.")
    if topic is not None:
        topic_check(scope, cluster, topic)
    if body.get("dry_run", True):
        detail = _visible_detail(scope, cluster, group)
        rows = group_offsets(detail, topic)
        return JsonResponse(
            {
                "dry_run": True,
                "group": group,
                "type": detail.type,
                "state": detail.state,
                "members": len(detail.members),
                "offsets": _group_offsets_json(rows),
                "undoable": topic is not None,
            }
        )
    if topic is None:
        record = delete_group_audited(user=request.user, cluster=cluster, group=group)
        return JsonResponse({"dry_run": False, "group": group, "audit_id": record.pk})
    rows, record = delete_offsets_audited(
        user=request.user, cluster=cluster, group=group, topic=topic
    )
    return JsonResponse(
        {
            "dry_run": False,
            "group": group,
            "topic": topic,
            "offsets": _group_offsets_json(rows),
            "audit_id": record.pk,
            "errors": record.result.get("errors", {}),
        },
        status=207 if record.status == "partial" else 200,
    )


@require_http_methods(["GET", "POST"])
def delete_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    """The page: the group's members and offsets, then delete it or its offsets on a topic."""
    scope = scope_of(request.user)
    if request.method == "POST" and (
        refused := _refused(request, scope, "delete", cluster, group=group)
    ):
        return refused
    group_check(scope, cluster, group)
    context: dict[str, Any] = {"cluster": cluster, "values": request.POST}
    status = 200
    if request.method == "POST":
        topic = request.POST.get("topic", "").strip() or None
        try:
            if topic is not None:
                topic_check(scope, cluster, topic)
                _, context["record"] = delete_offsets_audited(
                    user=request.user, cluster=cluster, group=group, topic=topic
                )
            else:
                context["record"] = delete_group_audited(
                    user=request.user, cluster=cluster, group=group
                )
                context["deleted"] = True
        except GroupNotEmpty as exc:
            context["error"], status = str(exc), 409
        except InvalidRequest as exc:
            context["error"], status = str(exc)[:500], 400
    if not context.get("deleted"):
        detail = _visible_detail(scope, cluster, group)
        context.update(group=detail, offsets=group_offsets(detail))
    context["name"] = group
    return _page(request, "group_delete.html", context, status)
