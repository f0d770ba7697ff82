"""Every frame the tail's socket sends, built in one place (its protocol is in the README)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.kafka.tail.request import TailRequest
from dashboard.kafka.tail.session import PartitionStart, TailSession
from dashboard.web.jsonutil import to_json


def hello_frame(*, cluster: str, topic: str) -> dict[str, Any]:
    """The socket is open."""
    return {"type": "hello", "cluster": cluster, "topic": topic}


def started_frame(
    *, topic: str, request: TailRequest, starts: Sequence[PartitionStart]
) -> dict[str, Any]:
    """Where each partition starts (and, in a search, where it stops)."""
    return {
        "type": "started",
        "topic": topic,
        "start": request.start,
        "partitions": to_json(starts),
        "filter": to_json(request.filter),
        "limit": request.limit,
    }


def batch_frame(seq: int, records: Sequence[bytes]) -> bytes:
    """The batch frame around records already encoded: {"type": "batch", ...}."""
    return b'{"type":"batch","seq":%d,"records":[%b]}' % (seq, b",".join(records))


def stats_frame(session: TailSession) -> dict[str, Any]:
    """The session's counters, whether it holds, and how far the reader is behind."""
    stats = session.stats
    behind = session.behind()
    return {
        "type": "stats",
        "state": stats.state,
        "consumed": stats.consumed,
        "matched": stats.matched,
        "delivered": stats.delivered,
        "dropped": 0,  # nothing is ever dropped; kept for old clients
        "buffered": session.buffered(),
        "error": stats.error,
        # New in the lossless tail: the server holds (stops fetching) instead of
        # dropping, and says how far the reader is behind the log end.
        "held": stats.held,
        "progress": session.progress() if session.search else None,
        "allowance": session.allowance,
        "behind": {
            "messages": behind.messages,
            "seconds": behind.seconds,
            "partitions": [
                {"partition": p, "next_offset": n, "high": h, "behind": b}
                for p, n, h, b in behind.partitions
            ],
        },
    }


def done_frame(session: TailSession, reason: str) -> dict[str, Any]:
    """A search is over: its range scanned (or its match limit reached), every match sent."""
    return {
        "type": "done",
        "reason": reason,
        "scanned": session.stats.consumed,
        "matched": session.stats.matched,
        "progress": session.progress(),
    }
