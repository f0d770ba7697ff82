"""Counts of the Kafka requests kafkaview sends, by cluster and call (for /metrics and bench).

Counted where our code calls the real client (each admin call, each consumer created for
a read, each request of our own protocol module), so "Kafka requests per second" can be
compared between one viewer and fifty.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()


def requests_count(*, cluster: str, call: str, n: int = 1) -> None:
    """Count n requests of one kind to a cluster."""
    with _lock:
        _counts[(cluster, call)] += n


def requests_counted() -> dict[tuple[str, str], int]:
    """Every count so far, by (cluster, call)."""
    with _lock:
        return dict(_counts)
