"""Pages that belong to no feature: the root redirect, liveness and 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dashboard.kafka.client.clients import clusters_all
from dashboard.web.errors import Problem, json_problem, wants_json

NOT_FOUND = Problem(404, "not_found", "There is nothing at this address.")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:overview", cluster=clusters_all().default)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    # Liveness only: answers without touching Kafka or the database.
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for addresses that match nothing: JSON under /api/, a page elsewhere."""
    if wants_json(request):
        return json_problem(NOT_FOUND)
    return render(request, "404.html", status=404)
