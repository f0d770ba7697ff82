"""One error shape for every answer: HTTP pages, JSON bodies and websocket frames.

The kafka layer raises its own errors; this module is the one place that maps them
to a status, a machine-readable type and a message. JSON answers carry
`{"error": {"type", "message", ...details}}`; websocket frames carry the same fields
as `{"type": "error", "error": <type>, "message", ...details}` (their protocol names
the frame type first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dashboard.access.policy import AccessDenied
from dashboard.kafka.errors import (
    BrokerNotFound,
    ClusterNotFound,
    ClusterUnavailable,
    GroupNotEmpty,
    GroupNotFound,
    InvalidRequest,
    KafkaViewError,
    RegistryNotFound,
    RegistryUnavailable,
    TooManyTails,
    TopicNotFound,
)

ERROR_STATUS: list[tuple[type[KafkaViewError], int, str]] = [
    (AccessDenied, 403, "forbidden"),
    (ClusterNotFound, 404, "cluster_not_found"),
    (TopicNotFound, 404, "topic_not_found"),
    (GroupNotFound, 404, "group_not_found"),
    (BrokerNotFound, 404, "broker_not_found"),
    (ClusterUnavailable, 503, "cluster_unavailable"),
    (RegistryNotFound, 404, "schema_not_found"),
    (RegistryUnavailable, 503, "registry_unavailable"),
    (GroupNotEmpty, 409, "group_not_empty"),
    (InvalidRequest, 400, "invalid_request"),
    (TooManyTails, 429, "too_many_tails"),
]


@dataclass(frozen=True)
class Problem:
    """What went wrong, as every kind of answer shows it."""

    status: int
    type: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The error object of a JSON answer (and of a page's context)."""
        return {"type": self.type, "message": self.message, **self.details}

    def frame(self) -> dict[str, Any]:
        """The websocket error frame."""
        return {"type": "error", "error": self.type, "message": self.message, **self.details}


def problem_of(exc: KafkaViewError) -> Problem:
    """Status, type, message and details of one of the kafka layer's errors."""
    status, kind = 500, "error"
    for cls, code, name in ERROR_STATUS:
        if isinstance(exc, cls):
            status, kind = code, name
            break
    details: dict[str, Any] = {}
    if isinstance(exc, ClusterUnavailable):
        details = {"cluster": exc.cluster, "tried": exc.bootstrap_servers, "detail": exc.detail}
    return Problem(status=status, type=kind, message=str(exc), details=details)


def wants_json(request: HttpRequest) -> bool:
    """JSON endpoints live under /api/ (and /metrics); everything else is a page."""
    return request.path.startswith("/api/") or request.path.startswith("/metrics")


def json_problem(problem: Problem, **more: Any) -> JsonResponse:
    """A JSON answer carrying the problem (plus more top-level fields, e.g. a new plan)."""
    return JsonResponse({"error": problem.body(), **more}, status=problem.status)


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    """The problem as JSON under /api/, as the error page elsewhere."""
    if wants_json(request):
        return json_problem(problem)
    return render(
        request,
        "dashboard/error.html",
        {"error": problem.body(), "status": problem.status},
        status=problem.status,
    )


def error_response(request: HttpRequest, exc: KafkaViewError) -> HttpResponse:
    """The page or JSON body for one of the kafka layer's errors."""
    return problem_response(request, problem_of(exc))
