"""Lag history JSON for the charts, the status help page and the Prometheus endpoint."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from dashboard.kafka.clusters import cluster_config
from dashboard.kafka.topics import topic_name_check
from dashboard.lag.conf import sample_interval, status_window
from dashboard.lag.history import group_history, range_minutes, topic_history
from dashboard.lag.metrics import HistoryCollector, RequestsCollector
from dashboard.lag.rules import STATUS_HELP, Status


@require_GET
def api_group_history(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    cluster_config(cluster=cluster)
    _, minutes = range_minutes(request.GET.get("range"))
    return JsonResponse(group_history(cluster=cluster, group=group, minutes=minutes))


@require_GET
def api_topic_history(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    cluster_config(cluster=cluster)
    topic_name_check(topic)
    _, minutes = range_minutes(request.GET.get("range"))
    return JsonResponse(topic_history(cluster=cluster, topic=topic, minutes=minutes))


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
    registry.register(HistoryCollector())
    registry.register(RequestsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
