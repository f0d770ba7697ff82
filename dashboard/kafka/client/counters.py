"""Counts of the Kafka requests kafkaview sends, by cluster and call (for /metrics and bench).

Counted where our code calls the real client (each admin call, each consumer created for
a read, each request of our own protocol module), so "Kafka requests per second" can be
compared between one viewer and fifty. A prometheus_client counter: with several web
processes (PROMETHEUS_MULTIPROC_DIR set, as `make run` does), each process writes its
counts to a file there and /metrics adds them all up.
"""

from __future__ import annotations

from prometheus_client import Counter

# registry=None: /metrics builds its own registry per scrape (dashboard/lag/views.py).
SENT = Counter(
    "kafkaview_kafka_requests",
    "Kafka requests sent by kafkaview's web processes (admin calls, fetches for lag times, "
    "our own protocol requests), by cluster and call",
    ["cluster", "call"],
    registry=None,
)


def requests_count(*, cluster: str, call: str, n: int = 1) -> None:
    """Count n requests of one kind to a cluster."""
    SENT.labels(cluster, call).inc(n)


def requests_counted() -> dict[tuple[str, str], int]:
    """Every count this process has made so far, by (cluster, call)."""
    return {
        (sample.labels["cluster"], sample.labels["call"]): int(sample.value)
        for metric in SENT.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
