"""Export a search as a download; import a file into a topic (preview, then send)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.access.policy import AccessDenied, scope_of, topic_check
from dashboard.kafka.errors import ClusterNotFound, InvalidRequest, TopicNotFound
from dashboard.kafka.numbers import whole_number
from dashboard.kafka.operate.importing import (
    IMPORT_FORMATS,
    ImportRecord,
    failure_json,
    import_check,
)
from dashboard.kafka.render import render_dict
from dashboard.kafka.tail.export import CONTENT_TYPES, FORMATS
from dashboard.kafka.tail.request import tail_request
from dashboard.kafka.topics import topic_partition_ids
from dashboard.writes.exchange import export_audited, export_body, import_audited
from dashboard.writes.views import _refused

MAX_IMPORT_BYTES = 1024 * 1024 * 1024
EXTENSIONS = {"lossless": "lossless.ndjson", "ndjson": "ndjson", "csv": "csv"}


def _flag(value: Any) -> bool:
    return str(value).lower() in {"1", "true", "on", "yes"}


def export_params(query: Mapping[str, Any]) -> dict[str, Any]:
    """The tail request's parameters from a query string (the export form and its link)."""
    params: dict[str, Any] = {
        key: query.get(key) for key in ("start", "offset", "timestamp", "last", "max_matches")
    }
    params["start"] = params["start"] or "earliest"
    parts = str(query.get("partitions") or "").replace(",", " ").split()
    params["partitions"] = parts or None
    params["filter"] = {
        "text": query.get("q") or "",
        "regex": _flag(query.get("regex")),
        "on": query.get("on") or "any",
    }
    end = query.get("end") or "now"
    if end == "offset":
        params["end"] = {"offset": query.get("end_offset")}
    elif end == "timestamp":
        params["end"] = {"timestamp": query.get("end_timestamp")}
    elif end == "now":
        params["end"] = "now"
    else:
        raise InvalidRequest('end must be "now", "offset" or "timestamp".')
    return params


@require_GET
def api_export(request: HttpRequest, cluster: str, topic: str) -> HttpResponseBase:
    """The download (GET, streamed); ?dry_run=1 says how many records are in range."""
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic, "export")
    fmt = request.GET.get("format") or "ndjson"
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}.")
    wanted = tail_request(topic=topic, params=export_params(request.GET))
    decode = request.GET.get("decode", "1") != "0"
    if _flag(request.GET.get("dry_run")):
        from dashboard.kafka.tail.export import export_plan

        starts = export_plan(cluster=cluster, request=wanted, fmt=fmt, masker=scope.masker(topic))
        return JsonResponse(
            {
                "dry_run": True,
                "format": fmt,
                "in_range": sum(max((s.end or s.offset) - s.offset, 0) for s in starts),
                "partitions": [
                    {"partition": s.partition, "start": s.offset, "end": s.end} for s in starts
                ],
            }
        )
    total, chunks, finish = export_audited(
        user=request.user,
        cluster=cluster,
        request=wanted,
        fmt=fmt,
        masker=scope.masker(topic),
        decode=decode,
    )
    response = StreamingHttpResponse(export_body(chunks, finish), content_type=CONTENT_TYPES[fmt])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    # Topic names are letters, digits, '.', '_' and '-': safe in a header as they are.
    response["Content-Disposition"] = f'attachment; filename="{topic}-{stamp}.{EXTENSIONS[fmt]}"'
    response["X-Records-In-Range"] = str(total)
    response["Cache-Control"] = "no-store"
    return response


def _first_json(record: ImportRecord) -> dict[str, Any]:
    return {
        "line": record.line,
        "partition": record.partition,
        "timestamp": record.timestamp,
        "key": render_dict(record.key, cap=200),
        "value": render_dict(record.value, cap=500),
        "headers": [[n, render_dict(v, cap=200)] for n, v in record.headers],
    }


def _import_options(data: Mapping[str, Any]) -> dict[str, Any]:
    fmt = str(data.get("format") or "lossless")
    if fmt not in IMPORT_FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(IMPORT_FORMATS)}.")
    rate = data.get("rate")
    return {
        "fmt": fmt,
        "keep_partitions": _flag(data.get("keep_partitions", "1")),
        "keep_timestamps": _flag(data.get("keep_timestamps", "1")),
        "rate": None
        if rate in (None, "")
        else whole_number(rate, "rate", minimum=1, maximum=1_000_000),
    }


def _import(request: HttpRequest, cluster: str, topic: str) -> dict[str, Any]:
    """Parse the uploaded file whole; with dry_run off, send it. The answer's body."""
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidRequest('Send the file as multipart form data, field "file".')
    if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
        raise InvalidRequest(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MiB.")
    options = _import_options(request.POST)
    partitions = len(topic_partition_ids(cluster=cluster, topic=topic))
    # The file object itself: lines split at "\n" only, at less than half the cost of
    # Django's File iteration (which also splits at a lone "\r").
    lines = upload.file if upload.file is not None else upload
    lines.seek(0)
    summary = import_check(
        lines,
        fmt=options["fmt"],
        partitions=partitions,
        keep_partitions=options["keep_partitions"],
    )
    shown = {
        "records": summary.records,
        "partitions": {str(p): n for p, n in sorted(summary.partitions.items())},
    }
    if _flag(request.POST.get("dry_run", "1")):
        return {"dry_run": True, **shown, "first": [_first_json(r) for r in summary.first]}
    lines.seek(0)
    result, record = import_audited(
        user=request.user,
        cluster=cluster,
        topic=topic,
        lines=lines,
        summary=shown,
        **options,
    )
    return {
        "dry_run": False,
        **shown,
        "delivered": result.delivered,
        "failed": result.failed,
        "per_partition": {str(p): n for p, n in sorted(result.per_partition.items())},
        "failures": [failure_json(where, e) for where, e in result.failures],
        "audit_id": record.pk,
    }


@require_http_methods(["POST"])
def api_import(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    if refused := _refused(request, scope_of(request.user), "produce", cluster, topic=topic):
        return refused
    body = _import(request, cluster, topic)
    failed = not body["dry_run"] and body["failed"]
    return JsonResponse(body, status=207 if failed else 200)


def _resend_form(request: HttpRequest, cluster: str, topic: str, kind: str) -> Any:
    """A republish or redrive form's answer body (as the JSON's), or a refusal."""
    from dashboard.writes.resend_views import redrive, republish

    form = request.POST
    data: dict[str, Any] = {**export_params(form), "dry_run": form.get("dry_run", "1")}
    for key in ("keep_partitions", "keep_timestamps", "strip_headers", "rate", "header"):
        if form.get(key) not in (None, ""):
            data[key] = form.get(key)
    if kind == "republish":
        data["destination"] = {
            "cluster": form.get("dest_cluster") or cluster,
            "topic": form.get("dest_topic") or "",
        }
        return republish(request, cluster, topic, data)
    return redrive(request, cluster, topic, data)


@require_http_methods(["GET", "POST"])
def exchange(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """The page: export (a download), import, send again and redrive (preview, then send).

    Its query string (from the tail page's search) fills the ranges in."""
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic)
    may_export = scope.may("export", cluster=cluster, topic=topic)
    kind = request.POST.get("kind", "import") if request.method == "POST" else None
    context: dict[str, Any] = {
        "cluster": cluster,
        "topic": topic,
        "formats": FORMATS,
        "may_export": may_export,
        "may_import": scope.may("produce", cluster=cluster, topic=topic),
        # Sending again writes elsewhere: offered to whoever may read the raw records.
        "may_resend": may_export and not settings.KAFKAVIEW_READ_ONLY,
        "values": request.POST if request.method == "POST" else request.GET,
        "kind": kind,
    }
    status = 200
    if kind in ("republish", "redrive"):
        try:
            body = _resend_form(request, cluster, topic, kind)
        except (InvalidRequest, TopicNotFound, ClusterNotFound, AccessDenied) as exc:
            context["error"] = str(exc)[:500]
            status = 403 if isinstance(exc, AccessDenied) else 400  # the page, with why
        else:
            if isinstance(body, HttpResponse):
                return body
            context["resent"] = body
    elif kind is not None:
        if refused := _refused(request, scope, "produce", cluster, topic=topic):
            return refused
        try:
            context["imported"] = _import(request, cluster, topic)
        except InvalidRequest as exc:
            context["error"], status = str(exc)[:500], 400
    return render(request, "dashboard/exchange.html", context, status=status)
