"""Top-level URLs: login, admin, health and the dashboard."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
]

handler404 = "dashboard.web.views.not_found"
