"""Thin views: validate, call one kafka-layer function, render or answer JSON."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dashboard.jsonutil import to_json
from dashboard.kafka.clusters import cluster_config, cluster_overview, clusters_all
from dashboard.kafka.groups import group_detail, group_list, topic_groups
from dashboard.kafka.topics import topic_detail, topic_list, topic_partition_ids
from dashboard.listing import apply, list_query


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:overview", cluster=clusters_all().default)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    # Liveness only: answers without touching Kafka or the database.
    return JsonResponse({"status": "ok"})


@require_GET
def overview(request: HttpRequest, cluster: str) -> HttpResponse:
    data = cluster_overview(cluster=cluster)
    config = cluster_config(cluster=cluster)
    return render(
        request,
        "dashboard/overview.html",
        {"overview": data, "config": config, "settings_shown": config.public_settings()},
    )


@require_GET
def api_overview(request: HttpRequest, cluster: str) -> HttpResponse:
    return JsonResponse(to_json(cluster_overview(cluster=cluster)))


TOPIC_FIELDS = ("name", "partitions", "replication_factor", "messages", "under_replicated")
GROUP_FIELDS = ("group", "state", "type", "members", "topics", "total_lag", "max_lag")


def _wants_internal(request: HttpRequest) -> bool:
    return request.GET.get("internal", "") in {"1", "true", "yes", "on"}


@require_GET
def topics(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=TOPIC_FIELDS, default="name")
    data = topic_list(cluster=cluster, include_internal=_wants_internal(request))
    rows = apply(data.topics, query, name_field="name")
    return render(
        request,
        "dashboard/topics.html",
        {
            "data": data,
            "rows": rows,
            "query": query,
            "internal": _wants_internal(request),
            "cluster": cluster,
        },
    )


@require_GET
def api_topics(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=TOPIC_FIELDS, default="name")
    data = topic_list(cluster=cluster, include_internal=_wants_internal(request))
    rows = apply(data.topics, query, name_field="name")
    return JsonResponse(
        {"cluster": cluster, "read_at": to_json(data.read_at), "topics": to_json(rows)}
    )


@require_GET
def topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    detail = topic_detail(cluster=cluster, topic=topic)
    consuming = topic_groups(cluster=cluster, topic=topic)
    return render(
        request,
        "dashboard/topic.html",
        {"topic": detail, "groups": consuming, "cluster": cluster},
    )


@require_GET
def api_topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    detail = topic_detail(cluster=cluster, topic=topic)
    consuming = topic_groups(cluster=cluster, topic=topic)
    return JsonResponse({**to_json(detail), "groups": to_json(consuming)})


@require_GET
def groups(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=GROUP_FIELDS, default="group")
    data = group_list(cluster=cluster)
    rows = apply(data.groups, query, name_field="group")
    return render(
        request,
        "dashboard/groups.html",
        {"data": data, "rows": rows, "query": query, "cluster": cluster},
    )


@require_GET
def api_groups(request: HttpRequest, cluster: str) -> HttpResponse:
    query = list_query(request.GET, fields=GROUP_FIELDS, default="group")
    data = group_list(cluster=cluster)
    rows = apply(data.groups, query, name_field="group")
    return JsonResponse(
        {"cluster": cluster, "read_at": to_json(data.read_at), "groups": to_json(rows)}
    )


@require_GET
def group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    detail = group_detail(cluster=cluster, group=group)
    return render(request, "dashboard/group.html", {"group": detail, "cluster": cluster})


@require_GET
def api_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    return JsonResponse(to_json(group_detail(cluster=cluster, group=group)))


@require_GET
def tail(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
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
        },
    )
