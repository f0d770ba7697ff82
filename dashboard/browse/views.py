"""Overview, topic and group pages and their JSON: each pair renders one selector's result."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access.policy import cluster_check, scope_of
from dashboard.browse.selectors import (
    PARTITIONS_PAGE,
    ShareGroupView,
    group_view,
    groups_view,
    overview_view,
    topic_view,
    topics_view,
)
from dashboard.kafka.errors import RegistryNotFound
from dashboard.kafka.registry.subjects import (
    SubjectView,
    subject_topic,
    subject_view,
    subjects_list,
    topic_subjects,
)
from dashboard.kafka.topics import topic_index
from dashboard.lag.history import RANGES, group_events, range_minutes
from dashboard.web.jsonutil import to_json
from dashboard.web.listing import list_query, paginate


@require_GET
def overview(request: HttpRequest, cluster: str) -> HttpResponse:
    view = overview_view(scope=scope_of(request.user), cluster=cluster)
    return render(
        request,
        "dashboard/overview.html",
        {
            "overview": view.overview,
            "config": view.config,
            "settings_shown": view.config.public_settings(),
        },
    )


@require_GET
def api_overview(request: HttpRequest, cluster: str) -> HttpResponse:
    return JsonResponse(
        to_json(overview_view(scope=scope_of(request.user), cluster=cluster).overview)
    )


# A list page shows 100 rows; a JSON answer 1,000 topics or 500 groups (each group is
# described); ?limit= takes up to 1,000.
PAGE_ROWS = 100
JSON_TOPICS = 1000
JSON_GROUPS = 500


@require_GET
def topics(request: HttpRequest, cluster: str) -> HttpResponse:
    view = topics_view(
        scope=scope_of(request.user), cluster=cluster, params=request.GET, limit=PAGE_ROWS
    )
    return render(
        request,
        "dashboard/topics.html",
        {
            "view": view,
            "rows": view.rows,
            "query": view.query,
            "cluster": cluster,
            # Whether some topic could be created; the name is checked on the create page.
            "can_create": scope_of(request.user).may("create", cluster=cluster, topic=""),
        },
    )


@require_GET
def api_topics(request: HttpRequest, cluster: str) -> HttpResponse:
    view = topics_view(
        scope=scope_of(request.user), cluster=cluster, params=request.GET, limit=JSON_TOPICS
    )
    return JsonResponse(
        {
            "cluster": cluster,
            "read_at": to_json(view.read_at),
            "topics": to_json(view.rows),
            **view.page.as_json(),
        }
    )


@require_GET
def topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    scope = scope_of(request.user)
    view = topic_view(scope=scope, cluster=cluster, topic=topic)
    # A topic of a thousand partitions: its table in pages (the JSON has them all).
    shown = list_query(
        request.GET, fields=["partition"], default="partition", limit=PARTITIONS_PAGE
    )
    page = paginate(view.topic.partitions, shown)
    return render(
        request,
        "dashboard/topic.html",
        {
            "topic": view.topic,
            "page": page,
            "partitions": page.rows,
            "groups": view.groups,
            "cluster": cluster,
            "can_produce": scope.may("produce", cluster=cluster, topic=topic),
            "can_configure": scope.may("configure", cluster=cluster, topic=topic),
            "can_delete": scope.may("delete", cluster=cluster, topic=topic),
            "schemas": topic_subjects(cluster=cluster, topic=topic),
            "ranges": RANGES,
            "range": range_minutes(request.GET.get("range"))[0],
        },
    )


@require_GET
def api_topic(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    view = topic_view(scope=scope_of(request.user), cluster=cluster, topic=topic)
    return JsonResponse({**to_json(view.topic), "groups": to_json(view.groups)})


@require_GET
def groups(request: HttpRequest, cluster: str) -> HttpResponse:
    view = groups_view(
        scope=scope_of(request.user), cluster=cluster, params=request.GET, limit=PAGE_ROWS
    )
    return render(
        request,
        "dashboard/groups.html",
        {
            "view": view,
            "rows": view.rows,
            "query": view.query,
            "cluster": cluster,
            "sampler": view.sampler,
        },
    )


@require_GET
def api_groups(request: HttpRequest, cluster: str) -> HttpResponse:
    view = groups_view(
        scope=scope_of(request.user), cluster=cluster, params=request.GET, limit=JSON_GROUPS
    )
    return JsonResponse(
        {
            "cluster": cluster,
            "read_at": to_json(view.read_at),
            "groups": [r.as_json() for r in view.rows],
            **view.page.as_json(),
            "notice": view.notice,
            "sampler": to_json(view.sampler),
        }
    )


@require_GET
def group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    scope = scope_of(request.user)
    view = group_view(scope=scope, cluster=cluster, group=group, params=request.GET)
    if isinstance(view, ShareGroupView):
        return render(
            request,
            "dashboard/share_group.html",
            {
                "group": view.group,
                "rows": view.rows,
                "status": view.status,
                "events": group_events(
                    cluster=cluster, group=group, visible_topic=scope.topic_filter(cluster)
                ),
                "sampler": view.sampler,
                "cluster": cluster,
                "can_reset": scope.may("reset", cluster=cluster, group=group),
                "can_delete": scope.may("delete", cluster=cluster, group=group),
            },
        )
    return render(
        request,
        "dashboard/group.html",
        {
            "group": view.group,
            "rows": view.rows,
            "status": view.status,
            "oldest": view.oldest,
            "page": view.page,
            "events": group_events(
                cluster=cluster, group=group, visible_topic=scope.topic_filter(cluster)
            ),
            "sampler": view.sampler,
            "ranges": RANGES,
            "range": range_minutes(request.GET.get("range"))[0],
            "cluster": cluster,
            "can_reset": scope.may("reset", cluster=cluster, group=group),
            "can_delete": scope.may("delete", cluster=cluster, group=group),
        },
    )


@require_GET
def api_group(request: HttpRequest, cluster: str, group: str) -> HttpResponse:
    view = group_view(scope=scope_of(request.user), cluster=cluster, group=group)
    rows = [{k: v for k, v in row.items() if k != "p"} for row in view.rows]
    return JsonResponse(
        {
            **to_json(view.group),
            "partitions": to_json(rows),
            "status": view.status,
            "sampler": to_json(view.sampler),
        }
    )


def _topics(request: HttpRequest, cluster: str) -> tuple[set[str], Callable[[str | None], bool]]:
    """Every topic name, and whether the user may see a subject that belongs to a topic.

    A scoped user sees a subject only when it belongs to a topic they may view (by any
    topic-bound naming strategy); a subject of no topic cannot be checked, so it is hidden.
    """
    scope = scope_of(request.user)
    cluster_check(scope, cluster)
    names = {t.name for t in topic_index(cluster=cluster, include_internal=True).topics}
    if not scope.limited:
        return names, lambda topic: True
    return names, lambda topic: topic is not None and scope.sees_topic(cluster, topic)


@require_GET
def schemas(request: HttpRequest, cluster: str) -> HttpResponse:
    names, sees = _topics(request, cluster)
    rows = [r for r in subjects_list(cluster=cluster, topics=names) if sees(r.topic)]
    return render(request, "dashboard/schemas.html", {"cluster": cluster, "rows": rows})


@require_GET
def api_schemas(request: HttpRequest, cluster: str) -> HttpResponse:
    names, sees = _topics(request, cluster)
    rows = [r for r in subjects_list(cluster=cluster, topics=names) if sees(r.topic)]
    return JsonResponse({"cluster": cluster, "subjects": to_json(rows)})


def _subject(request: HttpRequest, cluster: str, subject: str) -> SubjectView:
    names, sees = _topics(request, cluster)
    # Scope before the registry: a hidden subject answers as a missing one, whatever
    # else the request says (a bad ?version= included).
    if not sees(subject_topic(subject, names)[0]):
        raise RegistryNotFound(f"subject {subject[:200]!r} is not in the Schema Registry")
    return subject_view(
        cluster=cluster,
        subject=subject,
        version=request.GET.get("version", "latest").strip() or "latest",
        topics=names,
    )


@require_GET
def schema_subject(request: HttpRequest, cluster: str, subject: str) -> HttpResponse:
    view = _subject(request, cluster, subject)
    return render(request, "dashboard/schema.html", {"cluster": cluster, "view": view})


@require_GET
def api_schema_subject(request: HttpRequest, cluster: str, subject: str) -> HttpResponse:
    return JsonResponse({"cluster": cluster, **to_json(_subject(request, cluster, subject))})
