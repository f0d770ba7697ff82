"""Pages and JSON that change a cluster: topic and broker configs (preview, apply, revert)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from dashboard.access.policy import cluster_check, scope_of, topic_check
from dashboard.access.topic_policy import PolicyRefused
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.operate.configs import (
    ConfigChange,
    ConfigPlan,
    ConfigPlanChanged,
    Resource,
    changes_parse,
    configs_describe,
    plan_rows_json,
)
from dashboard.web.errors import Problem, json_problem
from dashboard.writes.models import AuditRecord
from dashboard.writes.operate import (
    config_preview,
    config_record,
    configure_audited,
    revert_of,
)
from dashboard.writes.views import _refused, json_body

DEFAULT_BROKER = "default"  # the path segment of the cluster-wide broker default


def broker_resource(broker: str) -> Resource:
    """The resource of a broker path segment: a broker id, or "default" for every broker."""
    return Resource("cluster") if broker == DEFAULT_BROKER else Resource("broker", broker)


def _resource_refused(
    request: HttpRequest, cluster: str, resource: Resource, action: str = "configure"
) -> HttpResponse | None:
    scope = scope_of(request.user)
    if resource.kind == "topic":
        return _refused(request, scope, action, cluster, topic=resource.name)
    return _refused(request, scope, action, cluster)


def _plan_json(plan: ConfigPlan) -> dict[str, Any]:
    return {
        "cluster": plan.cluster,
        "resource": plan.resource.kind,
        "name": plan.resource.name,
        "fingerprint": plan.fingerprint,
        "rows": plan_rows_json(plan),
        "changes": {
            "set": {c.name: c.value for c in plan.changes if c.value is not None},
            "delete": [c.name for c in plan.changes if c.value is None],
        },
    }


def lines_config(text: str) -> dict[str, str]:
    """'key=value' per line (blank lines skipped) as a mapping."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"Line {number}: write it as key=value.")
        if key.strip() in out:
            raise InvalidRequest(f"{key.strip()[:200]!r} is given twice: set it once.")
        out[key.strip()] = value.strip()
    return out


def lines_parse(set_text: str, delete_text: str) -> tuple[ConfigChange, ...]:
    """The page's two boxes: 'key=value' per line to set, a key per line to remove."""
    to_set = lines_config(set_text)
    to_delete = [line.strip() for line in delete_text.splitlines() if line.strip()]
    return changes_parse({"set": to_set, "delete": to_delete})


def _configs_page(request: HttpRequest, cluster: str, resource: Resource) -> HttpResponse:
    scope = scope_of(request.user)
    if resource.kind == "topic":
        topic_check(scope, cluster, resource.name)
    else:
        cluster_check(scope, cluster)
    may_edit = scope.may(
        "configure", cluster=cluster, topic=resource.name if resource.kind == "topic" else None
    )
    context: dict[str, Any] = {"cluster": cluster, "resource": resource, "may_edit": may_edit}
    status = 200
    if request.method == "POST":
        if refused := _resource_refused(request, cluster, resource):
            return refused
        action = request.POST.get("action", "preview")
        reverts: int | None = None
        try:
            if request.POST.get("revert"):
                undone = config_record(request.POST["revert"])
                if undone.cluster != cluster or _record_resource(undone) != resource:
                    raise InvalidRequest(
                        f"Audit entry {undone.pk} did not change {resource.label}."
                    )
                _, changes = revert_of(undone)
                reverts = undone.pk
            elif action == "apply":
                changes = changes_parse(json.loads(request.POST.get("changes") or "{}"))
            else:
                changes = lines_parse(request.POST.get("set", ""), request.POST.get("delete", ""))
            if action == "apply":
                plan, record = configure_audited(
                    user=request.user,
                    cluster=cluster,
                    resource=resource,
                    changes=changes,
                    fingerprint=request.POST.get("fingerprint", ""),
                    reverts=reverts,
                )
                context.update(applied=plan, record=record)
            else:
                plan = config_preview(cluster=cluster, resource=resource, changes=changes)
                context.update(plan=plan, changes_json=json.dumps(_plan_json(plan)["changes"]))
                context["reverts"] = reverts
        except ConfigPlanChanged as exc:
            context.update(
                plan=exc.plan,
                changed=True,
                changes_json=json.dumps(_plan_json(exc.plan)["changes"]),
            )
            status = 409
        except PolicyRefused as exc:
            context["error"] = str(exc)
            status = 422
        except (InvalidRequest, ValueError, RecursionError) as exc:
            context["error"] = str(exc)[:500]
            status = 400
    context["configs"] = configs_describe(cluster=cluster, resource=resource)
    context["level"] = resource.level
    return render(request, "dashboard/configs.html", context, status=status)


def _record_resource(record: AuditRecord) -> Resource:
    resource, _ = revert_of(record)
    return resource


@require_http_methods(["GET", "POST"])
def topic_configs(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    return _configs_page(request, cluster, Resource("topic", topic))


@require_http_methods(["GET", "POST"])
def broker_configs(request: HttpRequest, cluster: str, broker: str) -> HttpResponse:
    return _configs_page(request, cluster, broker_resource(broker))


def _configs_json(cluster: str, resource: Resource) -> dict[str, Any]:
    values = configs_describe(cluster=cluster, resource=resource)
    return {
        "cluster": cluster,
        "resource": resource.kind,
        "name": resource.name,
        "configs": [
            {
                "name": v.name,
                "value": v.value,
                "source": v.source,
                "read_only": v.read_only,
                "sensitive": v.sensitive,
                "synonyms": [
                    {"name": s.name, "value": s.value, "source": s.source} for s in v.synonyms
                ],
            }
            for v in values
        ],
    }


def _configs_api(request: HttpRequest, cluster: str, resource: Resource) -> HttpResponse:
    scope = scope_of(request.user)
    if request.method == "GET":
        if resource.kind == "topic":
            topic_check(scope, cluster, resource.name)
        else:
            cluster_check(scope, cluster)
        return JsonResponse(_configs_json(cluster, resource))
    if refused := _resource_refused(request, cluster, resource):
        return refused
    body = json_body(request)
    return _configs_change(request, cluster, resource, changes_parse(body), body)


def _configs_change(  # noqa: PLR0917 - one private helper of the two JSON views
    request: HttpRequest,
    cluster: str,
    resource: Resource,
    changes: tuple[ConfigChange, ...],
    body: dict[str, Any],
    reverts: int | None = None,
) -> HttpResponse:
    try:
        if body.get("dry_run", True):
            plan = config_preview(cluster=cluster, resource=resource, changes=changes)
            return JsonResponse({"dry_run": True, "plan": _plan_json(plan)})
        fingerprint = body.get("fingerprint")
        plan, record = configure_audited(
            user=request.user,
            cluster=cluster,
            resource=resource,
            changes=changes,
            fingerprint=fingerprint if isinstance(fingerprint, str) and fingerprint else None,
            reverts=reverts,
        )
    except ConfigPlanChanged as exc:
        return json_problem(Problem(409, "plan_changed", str(exc)), plan=_plan_json(exc.plan))
    except PolicyRefused as exc:
        return json_problem(
            Problem(422, "policy_refused", str(exc), {"policy": exc.policy, "rule": exc.rule})
        )
    return JsonResponse(
        {"dry_run": False, "plan": _plan_json(plan), "audit_id": record.pk if record else None}
    )


@require_http_methods(["GET", "POST"])
def api_topic_configs(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    return _configs_api(request, cluster, Resource("topic", topic))


@require_http_methods(["GET", "POST"])
def api_broker_configs(request: HttpRequest, cluster: str, broker: str) -> HttpResponse:
    return _configs_api(request, cluster, broker_resource(broker))


@require_http_methods(["POST"])
def api_revert(request: HttpRequest, record_id: int) -> HttpResponse:
    """Undo a config change of the audit: preview (dry_run, the default) or apply."""
    record = config_record(record_id)
    resource, changes = revert_of(record)
    scope = scope_of(request.user)
    cluster_check(scope, record.cluster)
    if refused := _resource_refused(request, record.cluster, resource):
        return refused
    return _configs_change(
        request, record.cluster, resource, changes, json_body(request), record.pk
    )
