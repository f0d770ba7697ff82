"""Transactions: every transactional id and its state, the producers of a partition, and the
hanging ones — through our own ListTransactions, DescribeTransactions and DescribeProducers
(librdkafka has no transaction admin calls), the way `kafka-transactions` does.

A transaction left open by a producer that died holds every read_committed reader of its
partitions at the last stable offset (LSO) until the coordinator aborts it (at the
transaction's timeout). It is *hanging* when no coordinator will: the partition has an
open transaction its coordinator does not list (`kafka-transactions find-hanging`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.client.brokers import BrokerNode, answer, brokers_all, check, send
from dashboard.kafka.client.clients import (
    admin_client,
    call,
    consumer_config,
    request_timeout,
    wait,
)
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.linear import PatternError, linear_compile
from dashboard.kafka.protocol.wire import Unsupported
from dashboard.kafka.topics import watermarks_all

STATES = (
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
)
OPEN_STATES = ("Ongoing", "PrepareCommit", "PrepareAbort")
TRANSACTIONAL_ID_NOT_FOUND = 105
COORDINATOR_LOAD_IN_PROGRESS = 14
MAX_BATCH = 500  # partitions a DescribeProducers request, as the tool's batches
HANGING_AFTER_MINUTES = 15  # the tool's --max-transaction-timeout default


@dataclass
class Transaction:
    """One transactional id as its coordinator knows it."""

    transactional_id: str
    producer_id: int
    state: str
    coordinator: int
    producer_epoch: int | None = None
    timeout_ms: int | None = None
    start_ms: int | None = None  # -1 from Kafka when no transaction is open
    partitions: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None

    def duration_ms(self, now_ms: int) -> int | None:
        """How long the current transaction has been open (None when none is)."""
        if self.start_ms is None or self.start_ms < 0 or self.state not in OPEN_STATES:
            return None
        return max(now_ms - self.start_ms, 0)


@dataclass(frozen=True)
class ActiveProducer:
    """A producer a partition's leader keeps state for (DescribeProducers)."""

    topic: str
    partition: int
    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int
    transaction_start_offset: int  # -1: no open transaction on this partition


def _list_on(
    cluster: str, node: BrokerNode, states: list[str], pids: list[int], pattern: str | None
) -> Future[Any]:
    values: dict[str, Any] = {
        "StateFilters": states,
        "ProducerIdFilters": pids,
        "DurationFilter": -1,
        "TransactionalIdPattern": pattern,
    }
    return send(cluster=cluster, node=node, name="ListTransactions", values=values)


def transactions_list(
    *,
    cluster: str,
    states: Iterable[str] = (),
    producer_ids: Iterable[int] = (),
    pattern: str | None = None,
    describe: bool = True,
) -> list[Transaction]:
    """Every transactional id of the cluster (each broker coordinates some), described."""
    wanted = list(states)
    if unknown := [s for s in wanted if s not in STATES]:
        raise InvalidRequest(f"Unknown transaction state {unknown[0][:50]!r}: one of {STATES}.")
    compiled = None
    if pattern:
        # A user's pattern: matched by RE2, in linear time (never Python's re).
        try:
            compiled = linear_compile(pattern)
        except PatternError as exc:
            raise InvalidRequest(f"The id pattern cannot be used: {exc}") from None
    nodes = brokers_all(cluster=cluster)
    pids = list(producer_ids)
    futures = [(n, _list_on(cluster, n, wanted, pids, None)) for n in nodes]
    found: list[Transaction] = []
    for node, future in futures:
        listed = answer(future, cluster=cluster)
        check(listed["ErrorCode"], None, cluster=cluster)
        for row in listed["TransactionStates"]:
            found.append(
                Transaction(
                    transactional_id=row["TransactionalId"],
                    producer_id=row["ProducerId"],
                    state=row["TransactionState"],
                    coordinator=node.id,
                )
            )
    if compiled is not None:
        # Matched here, not by the broker (its v2 pattern is Java's regex dialect, and
        # brokers before 4.0 lack it): one answer whatever the cluster's version.
        found = [t for t in found if compiled.search(t.transactional_id)]
    found.sort(key=lambda t: t.transactional_id)
    if describe and found:
        transactions_describe(cluster=cluster, transactions=found, nodes=nodes)
    return found


def transactions_describe(
    *, cluster: str, transactions: list[Transaction], nodes: Iterable[BrokerNode]
) -> None:
    """Fill in epoch, timeout, start and partitions, one request per coordinator."""
    by_node = {n.id: n for n in nodes}
    per_coordinator: dict[int, list[Transaction]] = {}
    for t in transactions:
        per_coordinator.setdefault(t.coordinator, []).append(t)
    futures = []
    for node_id, group in per_coordinator.items():
        node = by_node.get(node_id)
        if node is None:
            continue
        ids = [t.transactional_id for t in group]
        values = {"TransactionalIds": ids}
        request = send(cluster=cluster, node=node, name="DescribeTransactions", values=values)
        futures.append((group, request))
    for group, future in futures:
        described = {
            r["TransactionalId"]: r for r in answer(future, cluster=cluster)["TransactionStates"]
        }
        for t in group:
            row = described.get(t.transactional_id)
            if row is None:
                continue
            if row["ErrorCode"]:
                t.error = (
                    "not found"
                    if row["ErrorCode"] == TRANSACTIONAL_ID_NOT_FOUND
                    else str(row["ErrorCode"])
                )
                continue
            t.state = row["TransactionState"]
            t.producer_epoch = row["ProducerEpoch"]
            t.timeout_ms = row["TransactionTimeoutMs"]
            t.start_ms = row["TransactionStartTimeMs"]
            t.partitions = sorted(
                (topic["Topic"], p) for topic in row["Topics"] for p in topic["Partitions"]
            )


def partition_leaders(
    *, cluster: str, topics: Iterable[str] | None = None
) -> dict[tuple[str, int], int]:
    """The leader of each partition (of these topics, or of all), from the metadata."""
    admin = admin_client(cluster=cluster)
    meta = call(lambda: admin.list_topics(timeout=request_timeout()), cluster=cluster)
    wanted = None if topics is None else set(topics)
    return {
        (name, p.id): p.leader
        for name, t in meta.topics.items()
        if (wanted is None or name in wanted) and t.error is None
        for p in t.partitions.values()
    }


def producers_describe(
    *, cluster: str, partitions: Iterable[tuple[str, int]]
) -> list[ActiveProducer]:
    """The active producers of these partitions, asked of each partition's leader."""
    wanted = sorted(set(partitions))
    leaders = partition_leaders(cluster=cluster, topics={t for t, _ in wanted})
    nodes = {n.id: n for n in brokers_all(cluster=cluster)}
    per_leader: dict[int, list[tuple[str, int]]] = {}
    for tp in wanted:
        leader = leaders.get(tp, -1)
        if leader in nodes:
            per_leader.setdefault(leader, []).append(tp)
    futures = []
    for leader, tps in per_leader.items():
        for start in range(0, len(tps), MAX_BATCH):
            batch = tps[start : start + MAX_BATCH]
            topics: dict[str, list[int]] = {}
            for topic, p in batch:
                topics.setdefault(topic, []).append(p)
            values = {"Topics": [{"Name": t, "PartitionIndexes": ps} for t, ps in topics.items()]}
            futures.append(
                send(cluster=cluster, node=nodes[leader], name="DescribeProducers", values=values)
            )
    found: list[ActiveProducer] = []
    for future in futures:
        for topic in answer(future, cluster=cluster)["Topics"]:
            for part in topic["Partitions"]:
                check(part["ErrorCode"], part["ErrorMessage"], cluster=cluster)
                for p in part["ActiveProducers"]:
                    found.append(
                        ActiveProducer(
                            topic=topic["Name"],
                            partition=part["PartitionIndex"],
                            producer_id=p["ProducerId"],
                            producer_epoch=p["ProducerEpoch"],
                            last_sequence=p["LastSequence"],
                            last_timestamp=p["LastTimestamp"],
                            coordinator_epoch=p["CoordinatorEpoch"],
                            transaction_start_offset=p["CurrentTxnStartOffset"],
                        )
                    )
    found.sort(key=lambda a: (a.topic, a.partition, a.producer_id))
    return found


@dataclass(frozen=True)
class Hanging:
    """An open transaction on a partition that no coordinator will finish."""

    producer: ActiveProducer
    transactional_id: str | None  # None: no coordinator knows the producer id at all
    minutes_open: int


def hanging_find(
    *,
    cluster: str,
    partitions: Iterable[tuple[str, int]],
    max_timeout_minutes: int = HANGING_AFTER_MINUTES,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> tuple[list[ActiveProducer], list[Hanging]]:
    """(open transactions older than the bound, those of them that hang), as find-hanging."""
    bound = max_timeout_minutes * 60_000
    now = now_ms()
    candidates = [
        p
        for p in producers_describe(cluster=cluster, partitions=partitions)
        if p.transaction_start_offset >= 0 and now - p.last_timestamp > bound
    ]
    if not candidates:
        return [], []
    pids = sorted({p.producer_id for p in candidates})
    listed = {t.producer_id: t for t in transactions_list(cluster=cluster, producer_ids=pids)}
    hanging = []
    for p in candidates:
        t = listed.get(p.producer_id)
        # The coordinator lists the partition while it will still write its marker.
        if t is None or t.error is not None or (p.topic, p.partition) not in t.partitions:
            hanging.append(
                Hanging(
                    producer=p,
                    transactional_id=None if t is None else t.transactional_id,
                    minutes_open=(now - p.last_timestamp) // 60_000,
                )
            )
    return candidates, hanging


@dataclass(frozen=True)
class AbortPlan:
    """What aborting one producer's open transaction on a partition changes."""

    producer: ActiveProducer
    stable_before: int
    stable_after: int  # the next open transaction's start, or the log end past the marker
    high: int


def abort_plan(*, cluster: str, topic: str, partition: int, start_offset: int) -> AbortPlan:
    """Find the open transaction that starts at start_offset (as `kafka-transactions abort
    --start-offset` does) and say what its abort moves; InvalidRequest if there is none."""
    producers = producers_describe(cluster=cluster, partitions=[(topic, partition)])
    open_ = [p for p in producers if p.transaction_start_offset >= 0]
    chosen = [p for p in open_ if p.transaction_start_offset == start_offset]
    if not chosen:
        starts = ", ".join(str(p.transaction_start_offset) for p in open_) or "none"
        raise InvalidRequest(
            f"No open transaction starts at offset {start_offset} of {topic}-{partition} "
            f"(open ones start at: {starts})."
        )
    producer = chosen[0]
    high = watermarks_all(cluster=cluster, partitions=[(topic, partition)])[(topic, partition)].high
    before = stable_offsets(cluster=cluster, topic=topic, partitions=[partition])[partition]
    others = [p.transaction_start_offset for p in open_ if p is not producer]
    # The abort marker takes the next offset: the log end moves by one.
    after = min(others) if others else high + 1
    return AbortPlan(producer=producer, stable_before=before, stable_after=after, high=high)


def transaction_abort(*, cluster: str, plan: AbortPlan) -> None:
    """Write the abort marker for the producer's open transaction on its partition
    (WriteTxnMarkers to the partition's leader, as Admin.abortTransaction)."""
    p = plan.producer
    leader = partition_leaders(cluster=cluster, topics=[p.topic]).get((p.topic, p.partition))
    nodes = {n.id: n for n in brokers_all(cluster=cluster)}
    if leader not in nodes:
        raise InvalidRequest(f"{p.topic}-{p.partition} has no leader now; try again.")
    values = {
        "Markers": [
            {
                "ProducerId": p.producer_id,
                "ProducerEpoch": p.producer_epoch,
                "TransactionResult": False,
                "Topics": [{"Name": p.topic, "PartitionIndexes": [p.partition]}],
                "CoordinatorEpoch": max(p.coordinator_epoch, 0),
            }
        ]
    }
    done = answer(
        send(cluster=cluster, node=nodes[leader], name="WriteTxnMarkers", values=values),
        cluster=cluster,
    )
    for marker in done["Markers"]:
        for topic in marker["Topics"]:
            for part in topic["Partitions"]:
                check(part["ErrorCode"], None, cluster=cluster)


def stable_offsets(*, cluster: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """Each partition's last stable offset: where a read_committed reader must wait."""
    admin = admin_client(cluster=cluster)
    wanted = {TopicPartition(topic, p): OffsetSpec.latest() for p in partitions}
    if not wanted:
        return {}
    futures = call(
        lambda: admin.list_offsets(
            wanted,
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=request_timeout(),
        ),
        cluster=cluster,
    )
    return {tp.partition: wait(f, cluster=cluster).offset for tp, f in futures.items()}


# A group page counts what read_committed can read only where the gap is small: a lag of a
# few offsets that never goes away is what needs explaining, and a page view must stay cheap.
COUNT_MAX_PARTITION = 10_000
COUNT_MAX_TOTAL = 50_000


def readable_count(
    *,
    cluster: str,
    ranges: dict[tuple[str, int], tuple[int, int]],
    deadline_s: float | None = None,
) -> dict[tuple[str, int], int]:
    """Records a read_committed consumer delivers in each [start, end) (end: the LSO).

    The offsets it does not deliver are commit and abort markers and aborted records,
    which it can never read. A partition not read to its end in time is left out.
    """
    wanted = {k: r for k, r in ranges.items() if r[1] > r[0]}
    counts = {k: 0 for k in ranges if k not in wanted}
    if not wanted:
        return counts
    consumer = call(
        lambda: Consumer(
            consumer_config(
                cluster=cluster,
                purpose="readable",
                **{
                    "isolation.level": "read_committed",
                    "enable.partition.eof": True,
                    "auto.offset.reset": "error",
                    "fetch.wait.max.ms": 50,
                },
            )
        ),
        cluster=cluster,
    )
    found = dict.fromkeys(wanted, 0)
    open_ = set(wanted)
    # monotonic, not wall time: a page view's bound, never a test's clock.
    until = time.monotonic() + (deadline_s if deadline_s is not None else request_timeout())
    try:
        consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in wanted.items()])
        while open_ and time.monotonic() < until:
            for msg in consumer.consume(num_messages=1000, timeout=0.1):
                key = (str(msg.topic()), int(msg.partition() or 0))
                offset = msg.offset()
                if key not in open_ or offset is None:
                    continue
                end = wanted[key][1]
                error = msg.error()
                if error is not None:
                    # librdkafka's read_committed EOF comes at the LSO, past any marker.
                    if error.code() == KafkaError._PARTITION_EOF and offset >= end:
                        open_.discard(key)
                    continue
                if offset < end:
                    found[key] += 1
                if offset + 1 >= end:
                    open_.discard(key)
    finally:
        consumer.close()
    counts.update({k: n for k, n in found.items() if k not in open_})
    return counts


__all__ = [
    "AbortPlan",
    "ActiveProducer",
    "Hanging",
    "Transaction",
    "Unsupported",
    "abort_plan",
    "hanging_find",
    "producers_describe",
    "readable_count",
    "stable_offsets",
    "transaction_abort",
    "transactions_list",
]
