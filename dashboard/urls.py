"""The dashboard's pages and JSON API (paths are part of the public interface)."""

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("clusters/<str:cluster>/", views.overview, name="overview"),
    path("api/clusters/<str:cluster>/", views.api_overview, name="api_overview"),
]
