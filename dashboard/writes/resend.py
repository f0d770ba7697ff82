"""Republish a search's records, redrive a dead-letter topic: preview, then send, audited.

The audit record is written before anything is sent and completed with what went where;
the topic that was read is never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboard.kafka.errors import ClusterUnavailable, InvalidRequest
from dashboard.kafka.masking import Masker
from dashboard.kafka.operate.importing import ImportResult, failure_json, import_send
from dashboard.kafka.operate.resend import (
    RedriveResult,
    ResendPreview,
    Router,
    dead_letter_router,
    redrive_send,
    republish_records,
    resend_preview,
    to_topic,
)
from dashboard.kafka.tail.export import ExportStats, records_read
from dashboard.kafka.tail.request import TailRequest
from dashboard.kafka.tail.session import PartitionStart, tail_plan
from dashboard.kafka.topics import topic_partition_ids
from dashboard.writes.models import AuditRecord
from dashboard.writes.services import (
    User,
    _read_parameters,
    audit_finish,
    audit_start,
    sent_recorded,
    topic_masker,
)

UNTOUCHED = "The topic that was read was not changed: its records are still there."


def resend_starts(
    *, cluster: str, request: TailRequest, masker: Masker | None
) -> tuple[PartitionStart, ...]:
    """The range to read; refused for an open tail or a topic masked for this user."""
    if request.end is None:
        raise InvalidRequest('Sending records again needs an end: "now", an offset or a time.')
    if masker is not None:
        # What is sent again is the raw record: a masked reader would copy what they may
        # not see into a topic where they might. Fail closed.
        raise InvalidRequest(
            "This topic is masked for you: its records cannot be sent again by you, "
            "since that would copy the values you may not see."
        )
    return tail_plan(cluster=cluster, request=request)


def _batches(cluster: str, request: TailRequest, starts: Any, stats: ExportStats) -> Any:
    # Decoded for the filter (it matches what the tail shows); sent as the raw bytes.
    return records_read(
        cluster=cluster,
        request=request,
        starts=starts,
        masker=None,
        stats=stats,
        decode=True,
        purpose="resend",
    )


def in_range(starts: tuple[PartitionStart, ...]) -> int:
    """Records between each partition's start and end."""
    return sum(max((s.end or s.offset) - s.offset, 0) for s in starts)


def republish_check(
    *,
    starts: tuple[PartitionStart, ...],
    destination: tuple[str, str],
    keep_partitions: bool,
) -> int:
    """The destination's partition count; TopicNotFound, or InvalidRequest when records
    would keep a partition the destination does not have."""
    dest_cluster, dest_topic = destination
    partitions = len(topic_partition_ids(cluster=dest_cluster, topic=dest_topic))
    used = [s.partition for s in starts if (s.end or s.offset) > s.offset]
    if keep_partitions and used and max(used) >= partitions:
        raise InvalidRequest(
            f"Records of partition {max(used)} cannot keep their partition: {dest_topic!r} "
            f"has {partitions}. Let the partitioner choose instead."
        )
    return partitions


def resend_preview_read(
    *, cluster: str, request: TailRequest, starts: tuple[PartitionStart, ...], route: Router
) -> ResendPreview:
    """Read the range and say where each matched record would go (nothing is sent)."""
    stats = ExportStats()
    preview = resend_preview(_batches(cluster, request, starts, stats), route, stats=stats)
    if stats.finished is not None and stats.finished.startswith("error"):
        # Never an empty preview for a read that failed.
        raise ClusterUnavailable(cluster=cluster, bootstrap_servers="", detail=stats.finished)
    return preview


def _parameters(request: TailRequest, starts: tuple[PartitionStart, ...]) -> dict[str, Any]:
    return {
        **_read_parameters(request, topic_masker(request.topic)),
        "in_range": in_range(starts),
        "note": UNTOUCHED,
    }


def republish_audited(
    *,
    user: User,
    cluster: str,
    request: TailRequest,
    starts: tuple[PartitionStart, ...],
    destination: tuple[str, str],
    keep_partitions: bool,
    keep_timestamps: bool,
    rate: int | None,
) -> tuple[ImportResult, ExportStats, AuditRecord]:
    """Record the republish, send every matched record to the destination, complete it."""
    dest_cluster, dest_topic = destination
    record = audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.REPUBLISH,
        target=request.topic,
        parameters={
            **_parameters(request, starts),
            "destination": {"cluster": dest_cluster, "topic": dest_topic},
            "keep_partitions": keep_partitions,
            "keep_timestamps": keep_timestamps,
            "rate": rate,
        },
    )
    stats = ExportStats()
    result = sent_recorded(
        record,
        lambda: import_send(
            cluster=dest_cluster,
            topic=dest_topic,
            records=republish_records(
                _batches(cluster, request, starts, stats), keep_partitions=keep_partitions
            ),
            keep_partitions=keep_partitions,
            keep_timestamps=keep_timestamps,
            rate=rate,
        ),
    )
    read_whole = stats.finished in ("end", "max_matches")
    audit_finish(
        record,
        status=_status(result.failed or not read_whole, result),
        result={
            "scanned": stats.scanned,
            "matched": stats.matched,
            "finished": stats.finished or "the read stopped",
            "delivered": result.delivered,
            "failed": result.failed,
            "per_partition": {str(p): n for p, n in sorted(result.per_partition.items())},
            "failures": [failure_json(w, e) for w, e in result.failures],
        },
    )
    return result, stats, record


def _status(failed: Any, result: ImportResult) -> str:
    if not failed:
        return AuditRecord.Status.DONE
    return AuditRecord.Status.PARTIAL if result.delivered else AuditRecord.Status.FAILED


def redrive_router(*, dlq: str, header: str | None, refusal: Callable[[str], str | None]) -> Router:
    """The dead-letter router (a header name, if given, must be a plain header name)."""
    if header is not None and (not header.strip() or len(header) > 200):
        raise InvalidRequest("header must be a header name of 1-200 characters.")
    return dead_letter_router(dlq=dlq, header=header, refusal=refusal)


def redrive_audited(
    *,
    user: User,
    cluster: str,
    request: TailRequest,
    starts: tuple[PartitionStart, ...],
    route: Router,
    header: str | None,
    keep_timestamps: bool,
    strip_headers: bool,
    rate: int | None,
) -> tuple[RedriveResult, ExportStats, AuditRecord]:
    """Record the redrive, send each record back in transactions, complete the record."""
    record = audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.REDRIVE,
        target=request.topic,
        parameters={
            **_parameters(request, starts),
            "header": header,
            "keep_timestamps": keep_timestamps,
            "strip_headers": strip_headers,
            "rate": rate,
        },
    )
    stats = ExportStats()
    result = sent_recorded(
        record,
        lambda: redrive_send(
            cluster=cluster,
            batches=_batches(cluster, request, starts, stats),
            route=route,
            transactional_id=f"kafkaview-redrive-{record.pk}",
            keep_timestamps=keep_timestamps,
            strip_headers=strip_headers,
            header=header,
            rate=rate,
        ),
    )
    if result.error is None and stats.finished not in ("end", "max_matches"):
        result.error = stats.finished or "the read stopped"
    delivered = sum(result.delivered.values())
    audit_finish(
        record,
        status=AuditRecord.Status.DONE
        if result.error is None
        else AuditRecord.Status.PARTIAL
        if delivered
        else AuditRecord.Status.FAILED,
        result=redrive_json(result, stats),
    )
    return result, stats, record


def redrive_json(result: RedriveResult, stats: ExportStats) -> dict[str, Any]:
    """What the redrive did, as the audit and the JSON answer show it."""
    return {
        "scanned": stats.scanned,
        "matched": stats.matched,
        "delivered": dict(sorted(result.delivered.items())),
        "unroutable": result.unroutable,
        "unroutable_first": [
            {"partition": u.partition, "offset": u.offset, "reason": u.reason}
            for u in result.unroutable_first
        ],
        "through": {str(p): o for p, o in sorted(result.through.items())},
        "transactions": result.transactions,
        "aborted": result.aborted,
        "error": result.error,
        "note": UNTOUCHED,
    }


__all__ = [
    "in_range",
    "redrive_audited",
    "redrive_json",
    "redrive_router",
    "republish_audited",
    "republish_check",
    "resend_preview_read",
    "resend_starts",
    "to_topic",
]
