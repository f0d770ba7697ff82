"""Websocket routes (Channels)."""

from django.urls import path

from dashboard import consumers

websocket_urlpatterns = [
    path(
        "ws/clusters/<str:cluster>/topics/<str:topic>/tail/",
        consumers.TailConsumer.as_asgi(),
    ),
]
