"""Login for every page, JSON endpoint and metric; kafka-layer errors as clear pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse

from dashboard.kafka.errors import KafkaViewError
from dashboard.web.errors import Problem, error_response, json_problem, wants_json

UNAUTHENTICATED = Problem(401, "unauthenticated", "Log in first (session cookie).")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required default, answering 401 JSON instead of a redirect for APIs."""

    # Django's stub says a redirect; a JSON 401 is the point of this override.
    def handle_no_permission(  # type: ignore[override]
        self, request: HttpRequest, view_func: Callable[..., Any]
    ) -> HttpResponse:
        if wants_json(request):
            return json_problem(UNAUTHENTICATED)
        return super().handle_no_permission(request, view_func)


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
