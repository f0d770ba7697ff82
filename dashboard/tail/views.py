"""The live tail page; the data flows through the websocket consumer (tail/consumer.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access.policy import scope_of, topic_check
from dashboard.kafka.topics import topic_partition_ids


@require_GET
def tail(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic, "tail")
    partitions = topic_partition_ids(cluster=cluster, topic=topic)
    chosen = request.GET.getlist("partition")
    return render(
        request,
        "dashboard/tail.html",
        {
            "cluster": cluster,
            "topic": topic,
            "partitions": partitions,
            "chosen": {p for p in partitions if str(p) in chosen},
            "start": request.GET.get("start", "latest"),
            "offset": request.GET.get("offset", ""),
            "autostart": request.GET.get("autostart") == "1",
            "masked": scope.masker(topic) is not None,
        },
    )
