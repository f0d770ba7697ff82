"""Login (passwords, LDAP, the OIDC button), OIDC start and callback, logout, the why page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from dashboard.access.policy import AccessDenied
from dashboard.auth.oidc import ProviderUnavailable, end_session_url, oidc_setting
from dashboard.auth.sync import LoginRefused, auth_config
from dashboard.auth.why import why
from dashboard.kafka.client.clients import clusters_all
from dashboard.kafka.errors import ClusterNotFound
from dashboard.web.errors import Problem, problem_response

TEMPLATE = "registration/login.html"


def login_context() -> dict[str, Any]:
    """What the login page offers: the password form, the OIDC button, the directory's name."""
    config = auth_config()
    return {
        "password_form": config.password_login or config.ldap is not None,
        "oidc_label": config.oidc.label if config.oidc else "",
        "ldap_label": config.ldap.label if config.ldap else "",
    }


def _refused(request: HttpRequest, refused: LoginRefused) -> HttpResponse:
    return render(
        request,
        TEMPLATE,
        {**login_context(), "form": None, "refused": refused.message},
        status=refused.status,
    )


class LoginView(auth_views.LoginView):
    """Django's login form, offering what the sign-in file turns on."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **login_context()}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not login_context()["password_form"]:
            return _refused(
                request, LoginRefused("Password login is turned off: use single sign-on.")
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        refused = getattr(self.request, "kafkaview_refused", None)
        if isinstance(refused, LoginRefused):
            return _refused(self.request, refused)
        return super().form_invalid(form)


@method_decorator(login_not_required, name="dispatch")
class OidcStart(OIDCAuthenticationRequestView):
    """Off to the provider: state, nonce and a PKCE challenge kept in the session."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.unavailable: LoginRefused | None = None
        try:
            super().__init__(*args, **kwargs)
        except LoginRefused as exc:  # the provider is down, or not configured
            self.unavailable = exc

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.unavailable is not None:
            return _refused(request, self.unavailable)
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class OidcCallback(OIDCAuthenticationCallbackView):
    """Back from the provider: the code exchanged, the token checked, the user logged in."""

    get_settings = staticmethod(oidc_setting)

    def login_failure(self) -> HttpResponse:
        refused = getattr(self.request, "kafkaview_refused", None)
        if not isinstance(refused, LoginRefused):
            error = str(self.request.GET.get("error", ""))[:100]
            refused = LoginRefused(
                f"The identity provider did not sign you in{f' ({error})' if error else ''}."
            )
        return _refused(self.request, refused)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out here, then out of the provider too when it offers that (end_session)."""
    provider = end_session_url(request)
    auth.logout(request)
    return HttpResponseRedirect(provider or resolve_url(settings.LOGOUT_REDIRECT_URL))


def _why_answer(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    params = {k: (request.GET.get(k) or "").strip() or None for k in ("cluster", "topic", "group")}
    configured = clusters_all()
    cluster = params["cluster"] or configured.default
    if cluster not in configured.by_name:
        raise ClusterNotFound(cluster)
    action = (request.GET.get("action") or "view").strip()
    subject: Any = request.user
    asked = (request.GET.get("user") or "").strip()
    if asked and asked != request.user.get_username():
        if not request.user.is_superuser:
            raise AccessDenied("Only a superuser may ask why for another user.")
        subject = get_user_model().objects.filter(username=asked).first()
        if subject is None:
            return problem_response(
                request, Problem(404, "user_not_found", f"No user named {asked[:150]!r}.")
            )
    return why(
        subject, cluster=cluster, action=action, topic=params["topic"], group=params["group"]
    )


@require_GET
def why_page(request: HttpRequest) -> HttpResponse:
    answer = _why_answer(request)
    if isinstance(answer, HttpResponse):
        return answer
    return render(request, "dashboard/why.html", {"why": answer})


@require_GET
def api_why(request: HttpRequest) -> HttpResponse:
    answer = _why_answer(request)
    if isinstance(answer, HttpResponse):
        return answer
    return JsonResponse(answer)


__all__ = ["LoginView", "OidcCallback", "OidcStart", "ProviderUnavailable", "logout"]
