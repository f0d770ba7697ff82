"""Transactions: the cluster's list, a topic's producers and hanging transactions, and the
abort of one (preview: the partition's last stable offset before -> after; then audited)."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.access.policy import Scope, cluster_check, scope_of, topic_check
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.numbers import whole_number
from dashboard.kafka.topics import topic_partition_ids, watermarks_all
from dashboard.kafka.transactions import (
    HANGING_AFTER_MINUTES,
    STATES,
    AbortPlan,
    ActiveProducer,
    Hanging,
    Transaction,
    abort_plan,
    hanging_find,
    partition_leaders,
    producers_describe,
    stable_offsets,
    transaction_abort,
    transactions_list,
)
from dashboard.writes.models import AuditRecord
from dashboard.writes.operate import _audited
from dashboard.writes.views import _refused, json_body


def _now_ms() -> int:
    return int(time.time() * 1000)


def _visible(scope: Scope, cluster: str, t: Transaction) -> Transaction | None:
    """The transaction with only the partitions the user sees; None if it shows nothing
    of theirs (a scoped user sees the transactions that wrote to their topics)."""
    if not scope.limited:
        return t
    seen = [(topic, p) for topic, p in t.partitions if scope.sees_topic(cluster, topic)]
    if not seen:
        return None
    t.partitions = seen
    return t


def transaction_json(t: Transaction, now_ms: int) -> dict[str, Any]:
    """One transactional id as the page and the JSON show it."""
    return {
        "transactional_id": t.transactional_id,
        "producer_id": t.producer_id,
        "producer_epoch": t.producer_epoch,
        "state": t.state,
        "coordinator": t.coordinator,
        "timeout_ms": t.timeout_ms,
        "start_ms": t.start_ms if t.start_ms is not None and t.start_ms >= 0 else None,
        "duration_ms": t.duration_ms(now_ms),
        "partitions": [{"topic": topic, "partition": p} for topic, p in t.partitions],
        "error": t.error,
    }


def _filters(request: HttpRequest) -> dict[str, Any]:
    states = [s for s in request.GET.getlist("state") if s]
    pattern = (request.GET.get("id") or "").strip() or None
    if pattern is not None and len(pattern) > 200:
        raise InvalidRequest("The id pattern is longer than 200 characters.")
    minimum = request.GET.get("min_seconds") or None
    return {
        "states": states,
        "pattern": pattern,
        "min_ms": None if minimum is None else whole_number(minimum, "min_seconds") * 1000,
    }


def _listing(request: HttpRequest, cluster: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    scope = scope_of(request.user)
    cluster_check(scope, cluster)
    filters = _filters(request)
    now = _now_ms()
    rows = []
    for t in transactions_list(
        cluster=cluster, states=filters["states"], pattern=filters["pattern"]
    ):
        shown = _visible(scope, cluster, t)
        if shown is None:
            continue
        row = transaction_json(shown, now)
        if filters["min_ms"] is not None and (row["duration_ms"] or 0) < filters["min_ms"]:
            continue
        rows.append(row)
    return rows, filters


def _hanging_json(h: Hanging, now_ms: int) -> dict[str, Any]:
    return {
        **_producer_json(h.producer, now_ms),
        "transactional_id": h.transactional_id,
        "minutes_open": h.minutes_open,
    }


def _cluster_hanging(request: HttpRequest, cluster: str) -> dict[str, Any] | None:
    """?hanging=1: every partition the user sees searched, as `find-hanging` with no topic
    (one DescribeProducers per 500 partitions of a leader, so only when asked)."""
    if request.GET.get("hanging") not in {"1", "true", "on"}:
        return None
    scope = scope_of(request.user)
    minutes = whole_number(
        request.GET.get("max_minutes", HANGING_AFTER_MINUTES), "max_minutes", maximum=10**6
    )
    keys = [k for k in partition_leaders(cluster=cluster) if scope.sees_topic(cluster, k[0])]
    now = _now_ms()
    _, hanging = hanging_find(
        cluster=cluster, partitions=sorted(keys), max_timeout_minutes=minutes, now_ms=lambda: now
    )
    return {
        "max_minutes": minutes,
        "partitions_searched": len(keys),
        "transactions": [_hanging_json(h, now) for h in hanging],
    }


@require_GET
def api_transactions(request: HttpRequest, cluster: str) -> HttpResponse:
    """Every transactional id: ?state=Ongoing&id=<regex>&min_seconds=N filter; ?hanging=1
    (&max_minutes=N) also searches every partition for hanging transactions."""
    rows, _ = _listing(request, cluster)
    hanging = _cluster_hanging(request, cluster)
    return JsonResponse({"cluster": cluster, "transactions": rows, "hanging": hanging})


@require_GET
def transactions(request: HttpRequest, cluster: str) -> HttpResponse:
    rows, filters = _listing(request, cluster)
    context = {
        "cluster": cluster,
        "rows": rows,
        "filters": filters,
        "states": STATES,
        "hanging": _cluster_hanging(request, cluster),
        "max_minutes": request.GET.get("max_minutes", HANGING_AFTER_MINUTES),
    }
    return render(request, "dashboard/transactions.html", context)


def _producer_json(p: ActiveProducer, now_ms: int) -> dict[str, Any]:
    return {
        "topic": p.topic,
        "partition": p.partition,
        "producer_id": p.producer_id,
        "producer_epoch": p.producer_epoch,
        "last_sequence": p.last_sequence,
        "last_timestamp": p.last_timestamp,
        "coordinator_epoch": p.coordinator_epoch,
        "transaction_start_offset": None
        if p.transaction_start_offset < 0
        else p.transaction_start_offset,
        "open_ms": None if p.transaction_start_offset < 0 else max(now_ms - p.last_timestamp, 0),
    }


def topic_transactions(request: HttpRequest, cluster: str, topic: str) -> dict[str, Any]:
    """A topic's partitions (high watermark, last stable offset), active producers, and the
    open transactions that hang (older than ?max_minutes, 15 by default, as the tool)."""
    scope = scope_of(request.user)
    topic_check(scope, cluster, topic)
    minutes = whole_number(
        request.GET.get("max_minutes", HANGING_AFTER_MINUTES), "max_minutes", maximum=10**6
    )
    partitions = topic_partition_ids(cluster=cluster, topic=topic)
    marks = watermarks_all(cluster=cluster, partitions=[(topic, p) for p in partitions])
    highs = {p: w.high for (_, p), w in marks.items()}
    stable = stable_offsets(cluster=cluster, topic=topic, partitions=partitions)
    now = _now_ms()
    candidates, hanging = hanging_find(
        cluster=cluster,
        partitions=[(topic, p) for p in partitions],
        max_timeout_minutes=minutes,
        now_ms=lambda: now,
    )
    producers = producers_describe(cluster=cluster, partitions=[(topic, p) for p in partitions])
    return {
        "cluster": cluster,
        "topic": topic,
        "max_minutes": minutes,
        "partitions": [
            {
                "partition": p,
                "high": highs.get(p),
                "last_stable": stable.get(p),
                # Records a read_committed reader waits for behind an open transaction.
                "held": max((highs.get(p) or 0) - (stable.get(p) or 0), 0),
            }
            for p in partitions
        ],
        "producers": [_producer_json(p, now) for p in producers],
        "open_longer": [_producer_json(p, now) for p in candidates],
        "hanging": [_hanging_json(h, now) for h in hanging],
    }


@require_GET
def api_topic_transactions(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    return JsonResponse(topic_transactions(request, cluster, topic))


def _plan_json(plan: AbortPlan) -> dict[str, Any]:
    p = plan.producer
    return {
        "partition": p.partition,
        "producer_id": p.producer_id,
        "producer_epoch": p.producer_epoch,
        "transaction_start_offset": p.transaction_start_offset,
        "last_stable_before": plan.stable_before,
        "last_stable_after": plan.stable_after,
        "high": plan.high,
    }


def abort(request: HttpRequest, cluster: str, topic: str, data: dict[str, Any]) -> Any:
    """Preview (dry_run, the default) or apply an abort; a refusal as a response."""
    scope = scope_of(request.user)
    if refused := _refused(request, scope, "produce", cluster, topic=topic):
        return refused
    partition = whole_number(data.get("partition"), "partition")
    start = whole_number(data.get("start_offset"), "start_offset")
    plan = abort_plan(cluster=cluster, topic=topic, partition=partition, start_offset=start)
    shown = _plan_json(plan)
    dry_run = data.get("dry_run", True)
    if dry_run in (True, "1", "true"):
        return {"dry_run": True, **shown}

    def apply() -> dict[str, Any]:
        transaction_abort(cluster=cluster, plan=plan)
        after = stable_offsets(cluster=cluster, topic=topic, partitions=[partition])
        return {"last_stable_now": after.get(partition)}

    record = _audited(
        user=request.user,
        cluster=cluster,
        action=AuditRecord.Action.ABORT_TRANSACTION,
        target=topic,
        parameters=shown,
        apply=apply,
    )
    return {"dry_run": False, **shown, **record.result, "audit_id": record.pk}


@require_http_methods(["POST"])
def api_abort(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """POST {partition, start_offset, dry_run}: abort the open transaction starting there."""
    body = abort(request, cluster, topic, json_body(request))
    return body if isinstance(body, HttpResponse) else JsonResponse(body)


@require_http_methods(["GET", "POST"])
def topic_transactions_page(request: HttpRequest, cluster: str, topic: str) -> HttpResponse:
    """The page: partitions with their LSO, producers, hanging transactions, abort forms."""
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            body = abort(request, cluster, topic, request.POST.dict())
        except InvalidRequest as exc:
            context["error"], status = str(exc), 400
        else:
            if isinstance(body, HttpResponse):
                return body
            context["aborted"] = body
    context.update(topic_transactions(request, cluster, topic))
    context["may_abort"] = scope_of(request.user).may("produce", cluster=cluster, topic=topic)
    return render(request, "dashboard/topic_transactions.html", context, status=status)
