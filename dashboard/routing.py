"""Websocket routes (Channels)."""

from django.urls import path

from dashboard.tail import consumer

websocket_urlpatterns = [
    path(
        "ws/clusters/<str:cluster>/topics/<str:topic>/tail/",
        consumer.TailConsumer.as_asgi(),
    ),
]
