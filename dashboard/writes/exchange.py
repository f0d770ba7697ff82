"""Messages out and back in: an export streamed from a search, an import of such a file.

Both are audit records like produce: written before anything is read or sent, completed
with what was scanned, matched, delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from typing import Any

from asgiref.sync import sync_to_async

from dashboard.kafka.errors import ClusterUnavailable
from dashboard.kafka.masking import Masker
from dashboard.kafka.operate.importing import (
    ImportResult,
    failure_json,
    import_send,
    records_parse,
)
from dashboard.kafka.tail.export import ExportStats, export_lines, export_plan
from dashboard.kafka.tail.request import TailRequest
from dashboard.writes.models import AuditRecord
from dashboard.writes.services import (
    User,
    _read_parameters,
    audit_finish,
    audit_start,
    sent_recorded,
    topic_masker,
)


def export_audited(
    *,
    user: User,
    cluster: str,
    request: TailRequest,
    fmt: str,
    masker: Masker | None,
    decode: bool,
) -> tuple[int, Generator[bytes, None, None], Callable[[], None]]:
    """Check the export, record it; the records in range, the download's bytes, and what
    completes the record (call it when the download ends, is cut off or fails). A read
    that fails raises: the download is then incomplete, never ends as if all was read."""
    starts = export_plan(cluster=cluster, request=request, fmt=fmt, masker=masker)
    total = sum(max((s.end or s.offset) - s.offset, 0) for s in starts)
    record = audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.EXPORT,
        target=request.topic,
        parameters={
            **_read_parameters(request, topic_masker(request.topic)),
            "format": fmt,
            "decode": decode,
            "in_range": total,
        },
    )
    stats = ExportStats()

    def lines() -> Generator[bytes, None, None]:
        yield from export_lines(
            cluster=cluster,
            request=request,
            starts=starts,
            fmt=fmt,
            masker=masker,
            stats=stats,
            decode=decode,
        )
        if stats.finished is not None and stats.finished.startswith("error"):
            raise ClusterUnavailable(cluster=cluster, bootstrap_servers="", detail=stats.finished)

    def finish() -> None:
        done = stats.finished in ("end", "max_matches")
        audit_finish(
            record,
            status=AuditRecord.Status.DONE if done else AuditRecord.Status.PARTIAL,
            result={
                "scanned": stats.scanned,
                "matched": stats.matched,
                "total": stats.total,
                # None: the download was closed before the range was read.
                "finished": stats.finished or "cut off by the reader",
            },
        )

    return total, lines(), finish


async def export_body(
    chunks: Generator[bytes, None, None], finish: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The download as an async iterator, a chunk at a time, the next read while this is sent.

    Django's ASGI handler would read a synchronous iterator to its end into a list before
    sending a byte (measured: Daphne +1.2 GB for a 383 MiB export); this one reads in a
    worker thread one chunk ahead of the socket (so reading and sending overlap: the
    profile showed each waiting for the other), never more. A closed download cancels
    it: the read under way ends, the reader is closed (its consumer with it) and the
    record completed.
    """

    def step() -> bytes | None:
        return next(chunks, None)

    read = sync_to_async(step, thread_sensitive=False)
    ahead: asyncio.Future[bytes | None] = asyncio.ensure_future(read())
    try:
        while (chunk := await asyncio.shield(ahead)) is not None:
            ahead = asyncio.ensure_future(read())
            yield chunk
    finally:
        # The generator cannot be closed while a thread is inside it: let that read end.
        with contextlib.suppress(Exception):
            await asyncio.wait([ahead])
        await sync_to_async(chunks.close, thread_sensitive=False)()
        await sync_to_async(finish, thread_sensitive=True)()


def import_audited(
    *,
    user: User,
    cluster: str,
    topic: str,
    lines: Iterable[bytes],
    fmt: str,
    keep_partitions: bool,
    keep_timestamps: bool,
    rate: int | None,
    summary: dict[str, Any],
) -> tuple[ImportResult, AuditRecord]:
    """Record the import (the file was parsed whole before), send it, complete the record."""
    record = audit_start(
        user=user,
        cluster=cluster,
        action=AuditRecord.Action.IMPORT,
        target=topic,
        parameters={
            "format": fmt,
            "keep_partitions": keep_partitions,
            "keep_timestamps": keep_timestamps,
            "rate": rate,
            **summary,
        },
    )
    result = sent_recorded(
        record,
        lambda: import_send(
            cluster=cluster,
            topic=topic,
            records=records_parse(lines, fmt),
            keep_partitions=keep_partitions,
            keep_timestamps=keep_timestamps,
            rate=rate,
        ),
    )
    status = (
        AuditRecord.Status.DONE
        if not result.failed
        else AuditRecord.Status.FAILED
        if not result.delivered
        else AuditRecord.Status.PARTIAL
    )
    audit_finish(
        record,
        status=status,
        result={
            "delivered": result.delivered,
            "failed": result.failed,
            "per_partition": {str(p): n for p, n in sorted(result.per_partition.items())},
            "failures": [failure_json(where, e) for where, e in result.failures],
        },
    )
    return result, record
