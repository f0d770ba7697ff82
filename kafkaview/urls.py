"""Top-level URLs: login, admin, health and the dashboard."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.auth import views as sign_in

# Of django.contrib.auth.urls only what a dashboard needs: no password reset by e-mail
# (no mail is configured, and its token pages are one more way in).
urlpatterns = [
    path("accounts/login/", sign_in.LoginView.as_view(), name="login"),
    path("accounts/logout/", sign_in.logout, name="logout"),
    # OpenID Connect: off to the provider, and back (mozilla-django-oidc's views).
    path("accounts/oidc/start/", sign_in.OidcStart.as_view(), name="oidc_authentication_init"),
    path(
        "accounts/oidc/callback/",
        sign_in.OidcCallback.as_view(),
        name="oidc_authentication_callback",
    ),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
]

handler404 = "dashboard.web.views.not_found"
