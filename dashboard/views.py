"""Thin views: validate, call one kafka-layer function, render or answer JSON."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dashboard.jsonutil import to_json
from dashboard.kafka.clusters import cluster_config, cluster_overview, clusters_all


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
