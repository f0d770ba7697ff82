"""Lag history JSON for the charts, the status help page and the Prometheus endpoint."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dashboard.access.policy import group_check, scope_of, topic_check
from dashboard.kafka.client.clients import cluster_config
from dashboard.kafka.topics import topic_name_check
from dashboard.lag.conf import sample_interval, status_window
from dashboard.lag.history import group_history, range_minutes, topic_history
from dashboard.lag.metrics import HistoryCollector, RequestsCollector
from dashboard.lag.rules import STATUS_HELP, Status


@require_GET
def api_group_history(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_config(cluster=cluster)
    scope = scope_of(request.user)
    group_check(scope, cluster, group)
    _, minutes = range_minutes(request.GET.get("range"))
    history = group_history(cluster=cluster, group=group, minutes=minutes)
    if scope.limited:
        # Partitions of topics the user may not view leave the series and the total.
        shown = {
            k: v
            for k, v in history["partitions"].items()
            if scope.sees_topic(cluster, k.rpartition("/")[0])
        }
        if len(shown) != len(history["partitions"]):
            history["partitions"] = shown
            history["total_lag"] = [
                None
                if all(v[i] is None for v in shown.values())
                else sum(v[i] or 0 for v in shown.values())
                for i in range(len(history["times"]))
            ]
    return JsonResponse(history)


@require_GET
def api_topic_history(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_config(cluster=cluster)
    topic_name_check(topic)
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic)
    _, minutes = range_minutes(request.GET.get("range"))
    history = topic_history(cluster=cluster, topic=topic, minutes=minutes)
    if scope.limited:
        history["consume_rate"] = {
            g: v for g, v in history["consume_rate"].items() if scope.sees_group(cluster, g)
        }
    return JsonResponse(history)


@require_GET
def lag_status_help(request: HttpRequest) -> HttpResponse:
    interval, window = sample_interval(), status_window()
    return render(
        request,
        "dashboard/help_status.html",
        {
            "statuses": [(s.name, STATUS_HELP[s]) for s in Status],
            "interval": interval,
            "window": window,
            "span": interval * max(window - 1, 1),
        },
    )


def _token_ok(request: HttpRequest) -> bool:
    token = settings.KAFKAVIEW_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # Prometheus authenticates with the bearer token; a person with a login session.
    if not (request.user.is_authenticated or _token_ok(request)):
        return HttpResponse(
            "Unauthorized: log in, or send Authorization: Bearer <KAFKAVIEW_METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Bearer realm="kafkaview"'},
        )
    registry = CollectorRegistry(auto_describe=False)
    # The token (Prometheus) sees everything; a person sees what their rules let them view.
    scope = scope_of(request.user) if request.user.is_authenticated else None
    if scope is not None and scope.limited and not _token_ok(request):
        registry.register(
            HistoryCollector(sees_group=scope.sees_group, sees_topic=scope.sees_topic)
        )
    else:
        registry.register(HistoryCollector())
    registry.register(RequestsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
