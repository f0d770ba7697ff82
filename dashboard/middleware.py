"""Login for every page, JSON endpoint and metric; kafka-layer errors as clear pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dashboard.kafka.errors import (
    ClusterNotFound,
    ClusterUnavailable,
    GroupNotEmpty,
    GroupNotFound,
    InvalidRequest,
    KafkaViewError,
    TopicNotFound,
)


def wants_json(request: HttpRequest) -> bool:
    """JSON endpoints live under /api/ (and /metrics); everything else is a page."""
    return request.path.startswith("/api/") or request.path.startswith("/metrics")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required default, answering 401 JSON instead of a redirect for APIs."""

    def handle_no_permission(
        self, request: HttpRequest, view_func: Callable[..., Any]
    ) -> HttpResponse:
        if wants_json(request):
            return JsonResponse(
                {"error": {"type": "unauthenticated", "message": "Log in first (session cookie)."}},
                status=401,
            )
        return super().handle_no_permission(request, view_func)


ERROR_STATUS: list[tuple[type[KafkaViewError], int, str]] = [
    (ClusterNotFound, 404, "cluster_not_found"),
    (TopicNotFound, 404, "topic_not_found"),
    (GroupNotFound, 404, "group_not_found"),
    (ClusterUnavailable, 503, "cluster_unavailable"),
    (GroupNotEmpty, 409, "group_not_empty"),
    (InvalidRequest, 400, "invalid_request"),
]


def error_status(exc: KafkaViewError) -> tuple[int, str]:
    """HTTP status and error type name for one of the kafka layer's errors."""
    for cls, code, name in ERROR_STATUS:
        if isinstance(exc, cls):
            return code, name
    return 500, "error"


def error_kind(exc: KafkaViewError) -> str:
    """The error type name used in JSON bodies and websocket error frames."""
    return error_status(exc)[1]


def error_response(request: HttpRequest, exc: KafkaViewError) -> HttpResponse:
    """The page or JSON body for one of the kafka layer's errors."""
    status, kind = error_status(exc)
    body: dict[str, Any] = {"type": kind, "message": str(exc)}
    if isinstance(exc, ClusterUnavailable):
        body.update(cluster=exc.cluster, tried=exc.bootstrap_servers, detail=exc.detail)
    if wants_json(request):
        return JsonResponse({"error": body}, status=status)
    return render(request, "dashboard/error.html", {"error": body, "status": status}, status=status)


class KafkaErrorMiddleware:
    """Turns the kafka layer's errors into a 4xx/503 page or JSON body, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, KafkaViewError):
            return error_response(request, exception)
        return None
