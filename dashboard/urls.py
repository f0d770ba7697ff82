"""The dashboard's pages and JSON API (paths are part of the public interface)."""

from django.urls import path

from dashboard import views, views_history

app_name = "dashboard"

# Group ids may hold any character, '/' included, so they use the path converter.
urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("clusters/<str:cluster>/", views.overview, name="overview"),
    path("clusters/<str:cluster>/topics/", views.topics, name="topics"),
    path("clusters/<str:cluster>/topics/<str:topic>/", views.topic, name="topic"),
    path("clusters/<str:cluster>/topics/<str:topic>/tail/", views.tail, name="tail"),
    path("clusters/<str:cluster>/topics/<str:topic>/produce/", views.produce, name="produce"),
    path("clusters/<str:cluster>/groups/", views.groups, name="groups"),
    # reset/ before the group page: the path converter would take "g/reset" as a group id.
    path("clusters/<str:cluster>/groups/<path:group>/reset/", views.reset, name="reset"),
    path("metrics", views_history.metrics, name="metrics"),
    path("help/lag-status/", views_history.lag_status_help, name="help_status"),
    path("clusters/<str:cluster>/groups/<path:group>/", views.group, name="group"),
    path("audit/", views.audit, name="audit"),
    path("api/clusters/<str:cluster>/", views.api_overview, name="api_overview"),
    path("api/clusters/<str:cluster>/topics/", views.api_topics, name="api_topics"),
    path("api/clusters/<str:cluster>/topics/<str:topic>/", views.api_topic, name="api_topic"),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/partition/",
        views.api_partition_preview,
        name="api_partition_preview",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/history/",
        views_history.api_topic_history,
        name="api_topic_history",
    ),
    path("api/clusters/<str:cluster>/groups/", views.api_groups, name="api_groups"),
    path(
        "api/clusters/<str:cluster>/groups/<path:group>/history/",
        views_history.api_group_history,
        name="api_group_history",
    ),
    path(
        "api/clusters/<str:cluster>/groups/<path:group>/reset/", views.api_reset, name="api_reset"
    ),
    path("api/clusters/<str:cluster>/groups/<path:group>/", views.api_group, name="api_group"),
]
