"""The Alerts page and its JSON: rules, open alerts (acknowledge), silences (add, end),
recent history and notifications with their attempts, a test per receiver, and the rules
as Prometheus alerting rules for teams on Alertmanager."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard.access.policy import Scope, scope_of
from dashboard.alerts.models import Alert, Notification, Silence
from dashboard.alerts.prometheus import prometheus_rules
from dashboard.alerts.rules import AlertRule
from dashboard.alerts.service import alert_ack
from dashboard.kafka.errors import InvalidRequest

HISTORY_ROWS = 100
SILENCE_MAX_DAYS = 90


def _sees(scope: Scope, cluster: str, kind: str, name: str) -> bool:
    if not scope.limited:
        return True
    if kind == "group":
        return scope.sees_group(cluster, name)
    if kind == "topic":
        return scope.sees_topic(cluster, name)
    return scope.sees_cluster(cluster)


def _may_manage(request: HttpRequest) -> bool:
    return (
        bool(request.user.has_perm("dashboard.manage_alerts")) and not settings.KAFKAVIEW_READ_ONLY
    )


def _rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "on": rule.on,
        "when": rule.when,
        "match": rule.match.pattern if rule.match is not None else None,
        "clusters": sorted(rule.clusters),
        "types": sorted(rule.types),
        "at_least": rule.at_least,
        "above": rule.above,
        "clear_below": rule.clear_below,
        "for_seconds": rule.for_seconds,
        "clear_for_seconds": rule.clear_for_seconds,
        "severity": rule.severity,
        "receivers": list(rule.receivers),
        "remind_every_seconds": rule.remind_every_seconds,
    }


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        "id": a.pk,
        "rule": a.rule,
        "severity": a.severity,
        "cluster": a.cluster,
        "kind": a.kind,
        "name": a.name,
        "subject": a.subject,
        "state": a.state,
        "opened_at": a.opened_at.isoformat(),
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "text": a.text,
        "value": a.value,
        "acked_by": a.acked_by or None,
        "acked_at": a.acked_at.isoformat() if a.acked_at else None,
    }


def _notification_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.pk,
        "alert_id": n.alert_id,
        "receiver": n.receiver,
        "kind": n.kind,
        "state": n.state,
        "created_at": n.created_at.isoformat(),
        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        "next_at": n.next_at.isoformat() if n.state == Notification.State.PENDING else None,
        "attempts": n.attempts,
    }


def _silence_json(s: Silence) -> dict[str, Any]:
    return {
        "id": s.pk,
        "rule": s.rule or None,
        "subject": s.subject or None,
        "until": s.until.isoformat(),
        "reason": s.reason,
        "created_by": s.created_by,
    }


def alerts_read(request: HttpRequest) -> dict[str, Any]:
    """Everything the page shows, scoped to what the user may view."""
    scope = scope_of(request.user)
    rules = settings.KAFKAVIEW_ALERTS
    alerts = [
        a
        for a in Alert.objects.order_by("-opened_at")[: HISTORY_ROWS * 5]
        if _sees(scope, a.cluster, a.kind, a.name)
    ]
    shown = {a.pk for a in alerts}
    notes = [
        n
        for n in Notification.objects.order_by("-created_at", "-id")[: HISTORY_ROWS * 5]
        if n.alert_id in shown or (n.alert_id is None and not scope.limited)
    ][:HISTORY_ROWS]
    now = timezone.now()
    return {
        "source": rules.source,
        "rules": [_rule_json(r) for r in rules.rules],
        "receivers": [
            {"name": r.name, "type": r.type}
            for r in sorted(rules.receivers.values(), key=lambda r: r.name)
        ],
        "open": [_alert_json(a) for a in alerts if a.state == Alert.State.OPEN],
        "history": [_alert_json(a) for a in alerts[:HISTORY_ROWS]],
        "notifications": [_notification_json(n) for n in notes],
        "silences": [
            _silence_json(s)
            for s in Silence.objects.filter(until__gt=now, ended_at__isnull=True).order_by("until")
        ],
        "may_manage": _may_manage(request),
    }


@require_GET
def api_alerts(request: HttpRequest) -> HttpResponse:
    data = alerts_read(request)
    return JsonResponse(data)


@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/alerts.html", alerts_read(request))


def _body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            raise InvalidRequest("The body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return body
    return request.POST.dict()


def _answer(request: HttpRequest, data: dict[str, Any]) -> HttpResponse:
    if request.content_type == "application/json":
        return JsonResponse(data)
    return redirect("dashboard:alerts")


def _manage(request: HttpRequest) -> None:
    if not _may_manage(request):
        raise PermissionDenied("Silencing, acknowledging and testing need the operator role.")


@require_POST
def silence_add(request: HttpRequest) -> HttpResponse:
    """{"rule", "subject", "minutes", "reason"}: a rule, a subject or both, for a while."""
    _manage(request)
    body = _body(request)
    rule, subject = str(body.get("rule") or "").strip(), str(body.get("subject") or "").strip()
    if not rule and not subject:
        raise InvalidRequest("Name a rule, a subject or both to silence.")
    if rule and settings.KAFKAVIEW_ALERTS.rule(rule) is None:
        raise InvalidRequest(f"There is no rule {rule[:100]!r}.")
    if len(subject) > 1200:
        raise InvalidRequest("The subject is longer than 1200 characters.")
    try:
        minutes = int(body.get("minutes", 60))
    except (TypeError, ValueError):
        raise InvalidRequest("minutes must be a whole number.") from None
    if not 1 <= minutes <= SILENCE_MAX_DAYS * 24 * 60:
        raise InvalidRequest(f"minutes must be 1 to {SILENCE_MAX_DAYS * 24 * 60}.")
    reason = str(body.get("reason") or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidRequest("Say why, in 1-500 characters.")
    now = timezone.now()
    s = Silence.objects.create(
        rule=rule,
        subject=subject,
        until=now + timedelta(minutes=minutes),
        reason=reason,
        created_by=request.user.get_username(),
        created_at=now,
    )
    return _answer(request, _silence_json(s))


@require_POST
def silence_end(request: HttpRequest, silence_id: int) -> HttpResponse:
    _manage(request)
    s = get_object_or_404(Silence, pk=silence_id, ended_at__isnull=True)
    s.ended_at = timezone.now()
    s.save(update_fields=["ended_at"])
    return _answer(request, _silence_json(s))


@require_POST
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    _manage(request)
    alert = get_object_or_404(Alert, pk=alert_id, state=Alert.State.OPEN)
    if not _sees(scope_of(request.user), alert.cluster, alert.kind, alert.name):
        raise PermissionDenied("Not yours to acknowledge.")
    alert_ack(alert, by=request.user.get_username())
    return _answer(request, _alert_json(alert))


@require_POST
def receiver_test(request: HttpRequest, name: str) -> HttpResponse:
    """Queue a test notification to one receiver (sent by the sampler's sender)."""
    _manage(request)
    if name not in settings.KAFKAVIEW_ALERTS.receivers:
        raise InvalidRequest(f"There is no receiver {name[:100]!r}.")
    now = timezone.now()
    n = Notification.objects.create(
        receiver=name,
        kind="test",
        payload={
            "state": "test",
            "alert_id": None,
            "rule": "test",
            "severity": "info",
            "cluster": "",
            "kind": "test",
            "subject": "kafkaview",
            "name": "",
            "when": "",
            "value": None,
            "shown": "",
            "text": f"a test from {request.user.get_username()}: this receiver works",
            "link": settings.KAFKAVIEW_PUBLIC_URL.rstrip("/") + "/alerts/",
            "opened_at": now.isoformat(),
            "resolved_at": None,
        },
        created_at=now,
        next_at=now,
    )
    return _answer(request, _notification_json(n))


@require_GET
def api_prometheus_rules(request: HttpRequest) -> HttpResponse:
    """The rules as a Prometheus rule file over kafkaview's /metrics."""
    return HttpResponse(prometheus_rules(settings.KAFKAVIEW_ALERTS), content_type="text/yaml")
