"""The cluster's inside on one page: features, the KRaft quorum, brokers (fenced or not),
log directories. Each part is read on its own: one the cluster cannot answer (an older
broker lacks the request) says so, the others still show."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access.policy import Scope, cluster_check, scope_of
from dashboard.kafka.client.brokers import brokers_all
from dashboard.kafka.errors import ClusterUnavailable, InvalidRequest
from dashboard.kafka.internals import (
    cluster_nodes,
    eligible_leaders_all,
    features,
    log_dirs,
    metadata_version_name,
    quorum,
)
from dashboard.kafka.protocol.wire import Unsupported


def _part(read: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": True, **read()}
    except (Unsupported, InvalidRequest) as exc:
        return {"ok": False, "error": f"not available from this cluster: {exc}"[:300]}


def _features(cluster: str, nodes: Any) -> dict[str, Any]:
    found = features(cluster=cluster, nodes=nodes)
    names = sorted({*found.finalized, *(n for s in found.supported.values() for n in s)})
    rows = []
    for name in names:
        level = found.finalized.get(name)
        shown = metadata_version_name if name == "metadata.version" else str
        rows.append(
            {
                "name": name,
                "finalized": None if level is None else shown(level),
                "finalized_level": level,
                "supported": {
                    str(node): None
                    if name not in ranges
                    else {"min": shown(ranges[name][0]), "max": shown(ranges[name][1])}
                    for node, ranges in sorted(found.supported.items())
                },
            }
        )
    mv = found.finalized.get("metadata.version")
    return {
        "epoch": found.epoch,
        "metadata_version": None if mv is None else metadata_version_name(mv),
        "features": rows,
    }


def _ago(ms: int) -> float | None:
    return None if ms < 0 else max(time.time() - ms / 1000, 0.0)


def _quorum(cluster: str, nodes: Any) -> dict[str, Any]:
    q = quorum(cluster=cluster, node=nodes[0])
    return {
        "leader": q.leader,
        "epoch": q.epoch,
        "high_watermark": q.high_watermark,
        "max_follower_lag": max((r.lag for r in q.replicas if r.role != "observer"), default=0),
        "replicas": [
            {
                "node": r.node,
                "role": r.role,
                "log_end_offset": r.log_end_offset,
                "lag": r.lag,
                "last_fetch_ms": r.last_fetch_ms,
                "last_caught_up_ms": r.last_caught_up_ms,
                # For the page: how long ago, in seconds (Kafka answers -1 when unknown).
                "last_fetch_ago_s": _ago(r.last_fetch_ms),
                "last_caught_up_ago_s": _ago(r.last_caught_up_ms),
            }
            for r in q.replicas
        ],
    }


def _brokers(cluster: str, nodes: Any) -> dict[str, Any]:
    controller, found = cluster_nodes(cluster=cluster, node=nodes[0])
    return {
        "controller": controller,
        "brokers": [
            {"id": n.id, "host": n.host, "port": n.port, "rack": n.rack, "fenced": n.fenced}
            for n in found
        ],
    }


def _log_dirs(cluster: str, nodes: Any, scope: Scope) -> dict[str, Any]:
    dirs = []
    for d in log_dirs(cluster=cluster, nodes=nodes):
        topics = {t: n for t, n in d.topics.items() if scope.sees_topic(cluster, t)}
        dirs.append(
            {
                "broker": d.broker,
                "path": d.path,
                "error": d.error,
                "total_bytes": d.total_bytes,
                "usable_bytes": d.usable_bytes,
                "cordoned": d.cordoned,
                # A scoped user's sizes count their topics only.
                "size": sum(topics.values()),
                "topics": [
                    {"topic": t, "bytes": n}
                    for t, n in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
            }
        )
    return {"dirs": dirs}


def _elr(cluster: str, nodes: Any, scope: Scope) -> dict[str, Any]:
    read, found = eligible_leaders_all(cluster=cluster, node=nodes[0])
    return {
        "partitions_read": read,
        "partitions": [
            {
                "topic": f.topic,
                "partition": f.partition,
                "leader": f.leader,
                "isr": list(f.isr),
                "elr": list(f.elr),
                "last_known_elr": list(f.last_known),
            }
            for f in found
            if scope.sees_topic(cluster, f.topic)
        ],
    }


def internals_read(request: HttpRequest, cluster: str) -> dict[str, Any]:
    """Every part of the page's answer (each with ok and, when not, its error)."""
    scope = scope_of(request.user)
    cluster_check(scope, cluster)
    nodes = brokers_all(cluster=cluster)
    if not nodes:
        raise ClusterUnavailable(cluster=cluster, bootstrap_servers="", detail="no brokers")
    return {
        "cluster": cluster,
        "read_at_ms": int(time.time() * 1000),
        "features": _part(lambda: _features(cluster, nodes)),
        "quorum": _part(lambda: _quorum(cluster, nodes)),
        "brokers": _part(lambda: _brokers(cluster, nodes)),
        "log_dirs": _part(lambda: _log_dirs(cluster, nodes, scope)),
        "eligible_leaders": _part(lambda: _elr(cluster, nodes, scope)),
    }


@require_GET
def api_internals(request: HttpRequest, cluster: str) -> HttpResponse:
    return JsonResponse(internals_read(request, cluster))


@require_GET
def internals(request: HttpRequest, cluster: str) -> HttpResponse:
    return render(request, "dashboard/internals.html", internals_read(request, cluster))
