"""Send a search's records again (republish) and redrive a dead-letter topic: JSON and page.

Both: the range is read with the export's reader (an `export` right on the topic read),
a dry run reads it and says where each record would go, and then the send is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from dashboard.access.policy import Scope, scope_of, topic_check
from dashboard.kafka.errors import InvalidRequest, TopicNotFound
from dashboard.kafka.numbers import whole_number
from dashboard.kafka.operate.importing import failure_json
from dashboard.kafka.operate.resend import ResendPreview
from dashboard.kafka.render import render_dict
from dashboard.kafka.tail.request import TailRequest, tail_request
from dashboard.kafka.topics import topic_partition_ids
from dashboard.web.errors import Problem, problem_response
from dashboard.web.permissions import PRODUCE, refusal
from dashboard.writes.resend import (
    in_range,
    redrive_audited,
    redrive_json,
    redrive_router,
    republish_audited,
    republish_check,
    resend_preview_read,
    resend_starts,
    to_topic,
)
from dashboard.writes.views import _refused, json_body

RANGE_KEYS = ("start", "offset", "timestamp", "last", "partitions", "filter", "end", "max_matches")


def _bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if isinstance(value, str):  # a form's field
        return value.lower() in {"1", "true", "on", "yes"}
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key} must be true or false.")
    return value


def _rate(data: Mapping[str, Any]) -> int | None:
    rate = data.get("rate")
    return None if rate in (None, "") else whole_number(rate, "rate", minimum=1, maximum=1_000_000)


def range_request(topic: str, data: Mapping[str, Any]) -> TailRequest:
    """The range to read from a JSON body (the tail's parameters; end defaults to "now")."""
    params = {key: data[key] for key in RANGE_KEYS if key in data}
    params.setdefault("start", "earliest")
    params.setdefault("end", "now")
    return tail_request(topic=topic, params=params)


def _message_json(msg: Any) -> dict[str, Any]:
    return {
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": render_dict(msg.key(), cap=200),
        "value": render_dict(msg.value(), cap=500),
    }


def preview_json(preview: ResendPreview) -> dict[str, Any]:
    """A dry run's answer: how many would go where, the first few, what cannot go."""
    stats = preview.stats
    return {
        "dry_run": True,
        "in_range": stats.total,
        "scanned": stats.scanned,
        "matched": stats.matched,
        "complete": preview.complete and stats.finished in ("end", "max_matches"),
        "destinations": [
            {
                "topic": topic,
                "records": n,
                "first": [_message_json(m) for m in preview.first.get(topic, [])],
            }
            for topic, n in sorted(preview.destinations.items())
        ],
        "unroutable": preview.unroutable,
        "unroutable_first": [
            {"partition": u.partition, "offset": u.offset, "reason": u.reason}
            for u in preview.unroutable_first
        ],
        "note": "Nothing was sent. The topic read is never changed.",
    }


def _destination(data: Mapping[str, Any], cluster: str) -> tuple[str, str]:
    dest = data.get("destination")
    if isinstance(dest, Mapping):
        dest_cluster, dest_topic = dest.get("cluster") or cluster, dest.get("topic")
    else:
        dest_cluster, dest_topic = data.get("dest_cluster") or cluster, data.get("dest_topic")
    if not isinstance(dest_cluster, str) or not isinstance(dest_topic, str) or not dest_topic:
        raise InvalidRequest('Name the destination: {"cluster": ..., "topic": ...}.')
    return dest_cluster, dest_topic


def republish(request: HttpRequest, cluster: str, topic: str, data: Mapping[str, Any]) -> Any:
    """The republish's answer body, or a refusal (a response)."""
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic, "export")
    destination = _destination(data, cluster)
    if refused := _refused(request, scope, "produce", destination[0], topic=destination[1]):
        return refused
    wanted = range_request(topic, data)
    keep_partitions = _bool(data, "keep_partitions", False)
    keep_timestamps = _bool(data, "keep_timestamps", True)
    rate = _rate(data)
    starts = resend_starts(cluster=cluster, request=wanted, masker=scope.masker(topic))
    partitions = republish_check(
        starts=starts, destination=destination, keep_partitions=keep_partitions
    )
    head = {
        "destination": {"cluster": destination[0], "topic": destination[1]},
        "destination_partitions": partitions,
    }
    if _bool(data, "dry_run", True):
        preview = resend_preview_read(
            cluster=cluster, request=wanted, starts=starts, route=to_topic(destination[1])
        )
        return {**preview_json(preview), **head}
    result, stats, record = republish_audited(
        user=request.user,
        cluster=cluster,
        request=wanted,
        starts=starts,
        destination=destination,
        keep_partitions=keep_partitions,
        keep_timestamps=keep_timestamps,
        rate=rate,
    )
    return {
        "dry_run": False,
        **head,
        "in_range": in_range(starts),
        "scanned": stats.scanned,
        "matched": stats.matched,
        "finished": stats.finished,
        "delivered": result.delivered,
        "failed": result.failed,
        "per_partition": {str(p): n for p, n in sorted(result.per_partition.items())},
        "failures": [failure_json(w, e) for w, e in result.failures],
        "audit_id": record.pk,
    }


def destination_refusal(scope: Scope, cluster: str) -> Callable[[str], str | None]:
    """Why a redrive cannot write a topic (not allowed, absent), asked once a topic."""

    def refusal_of(topic: str) -> str | None:
        # Permission first: a topic the user may not write is not even looked up, so
        # the answer says nothing of whether it exists.
        if not scope.may("produce", cluster=cluster, topic=topic):
            return f"you may not produce to topic {topic!r}"
        try:
            topic_partition_ids(cluster=cluster, topic=topic)
        except TopicNotFound:
            return f"topic {topic!r} does not exist on cluster {cluster!r}"
        return None

    return refusal_of


def redrive(request: HttpRequest, cluster: str, topic: str, data: Mapping[str, Any]) -> Any:
    """The redrive's answer body, or a refusal (a response)."""
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic, "export")
    if settings.KAFKAVIEW_READ_ONLY:
        return problem_response(request, Problem(403, "forbidden", refusal(PRODUCE)))
    header = data.get("header") or None
    if header is not None and not isinstance(header, str):
        raise InvalidRequest("header must be a header name.")
    wanted = range_request(topic, data)
    keep_timestamps = _bool(data, "keep_timestamps", False)
    strip_headers = _bool(data, "strip_headers", True)
    rate = _rate(data)
    starts = resend_starts(cluster=cluster, request=wanted, masker=scope.masker(topic))
    route = redrive_router(dlq=topic, header=header, refusal=destination_refusal(scope, cluster))
    if _bool(data, "dry_run", True):
        preview = resend_preview_read(cluster=cluster, request=wanted, starts=starts, route=route)
        return preview_json(preview)
    result, stats, record = redrive_audited(
        user=request.user,
        cluster=cluster,
        request=wanted,
        starts=starts,
        route=route,
        header=header,
        keep_timestamps=keep_timestamps,
        strip_headers=strip_headers,
        rate=rate,
    )
    return {"dry_run": False, **redrive_json(result, stats), "audit_id": record.pk}


def _answer(body: Any) -> HttpResponse:
    if isinstance(body, HttpResponse):
        return body
    failed = not body["dry_run"] and (body.get("failed") or body.get("error"))
    return JsonResponse(body, status=207 if failed else 200)


@require_http_methods(["POST"])
def api_republish(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """POST: send the records of a range again to a topic (dry run first by default)."""
    return _answer(republish(request, cluster, topic, json_body(request)))


@require_http_methods(["POST"])
def api_redrive(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """POST: send each record of a dead-letter topic back to the topic its header names."""
    return _answer(redrive(request, cluster, topic, json_body(request)))
