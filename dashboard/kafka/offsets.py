"""Offset resets: plans (pure arithmetic over fetched offsets) and applying them.

Rules follow Kafka's `kafka-consumer-groups --reset-offsets`: a group with active
members cannot be reset; a target below the log start or past the log end is
clamped to it (and marked); a time with no message at or after it goes to the
log end; a shift moves from the committed offset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.client.clients import admin_client, request_timeout, wait
from dashboard.kafka.errors import GroupNotEmpty, GroupNotFound, InvalidRequest, TopicNotFound
from dashboard.kafka.groups.lag import Group, group_detail
from dashboard.kafka.groups.share import ShareGroup, share_offsets_alter
from dashboard.kafka.topics import metadata_topics, offsets_send, watermarks_all

STRATEGIES = {
    "earliest": "earliest: the log start",
    "latest": "latest: the log end (skip everything not yet read)",
    "offset": "a specific offset",
    "timestamp": "the first message at or after a time",
    "shift": "shift by ±N from the committed offset",
    "copy": "copy the committed offsets of another group",
    "offsets": "explicit offsets per partition (used by undo)",
}
RESETTABLE_STATES = {"empty", "dead"}

Key = tuple[str, int]


@dataclass(frozen=True)
class ResetRow:
    """One partition of a plan: current -> new offset, lag before -> after."""

    topic: str
    partition: int
    current: int | None
    new: int
    low: int
    high: int
    lag_before: int | None
    lag_after: int
    clamped: bool


@dataclass(frozen=True)
class ResetRequest:
    """What the user asked: a strategy, its value and the scope."""

    strategy: str
    topic: str | None = None
    partitions: tuple[Key, ...] | None = None
    offset: int | None = None
    timestamp_ms: int | None = None
    shift: int | None = None
    source_group: str | None = None
    offsets: tuple[tuple[str, int, int], ...] | None = None

    def parameters(self) -> dict[str, Any]:
        """JSON-ready form, to store in the audit trail and to carry through a preview."""
        return {
            "strategy": self.strategy,
            "topic": self.topic,
            "partitions": [list(k) for k in self.partitions] if self.partitions else None,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "shift": self.shift,
            "source_group": self.source_group,
            "offsets": [list(o) for o in self.offsets] if self.offsets else None,
        }


@dataclass(frozen=True)
class ResetPlan:
    """A reset ready to apply, with the fingerprint of what it was computed from."""

    cluster: str
    group: str
    state: str
    request: ResetRequest
    rows: tuple[ResetRow, ...]
    fingerprint: str
    notes: tuple[str, ...]
    # "share": the rows move share-partition start offsets (AlterShareGroupOffsets).
    group_type: str = "classic"


@dataclass(frozen=True)
class ResetOutcome:
    """What Kafka answered for each partition of an applied plan."""

    plan: ResetPlan
    results: tuple[tuple[str, int, int, str | None], ...]  # topic, partition, offset, error

    @property
    def failed(self) -> int:
        """How many partitions Kafka refused."""
        return sum(1 for r in self.results if r[3] is not None)


class PlanChanged(InvalidRequest):
    """The group or its offsets changed between preview and apply; here is the new plan."""

    def __init__(self, plan: ResetPlan) -> None:
        self.plan = plan
        super().__init__(
            "The group or its offsets changed since the preview; check the new preview "
            "and confirm again."
        )


def _clamp(value: int, low: int, high: int) -> tuple[int, bool]:
    if value < low:
        return low, True
    if value > high:
        return high, True
    return value, False


def reset_rows(
    *,
    request: ResetRequest,
    keys: Iterable[Key],
    current: Mapping[Key, int],
    marks: Mapping[Key, tuple[int, int]],
    by_time: Mapping[Key, int] | None = None,
    source: Mapping[Key, int] | None = None,
) -> tuple[tuple[ResetRow, ...], tuple[str, ...]]:
    """The new offset of every partition (pure); notes say what was left out and why."""
    explicit = {(t, p): o for t, p, o in request.offsets or ()}
    rows, notes = [], []
    for key in sorted(keys):
        low, high = marks[key]
        now = current.get(key)
        s = request.strategy
        if s == "earliest":
            target = low
        elif s == "latest":
            target = high
        elif s == "offset":
            target = int(request.offset or 0)
        elif s == "timestamp":
            found = (by_time or {}).get(key, -1)
            target = found if found >= 0 else high
        elif s == "shift":
            if now is None:
                notes.append(f"{key[0]}-{key[1]}: no committed offset to shift from; left out.")
                continue
            target = now + int(request.shift or 0)
        elif s == "copy":
            if key not in (source or {}):
                notes.append(
                    f"{key[0]}-{key[1]}: {request.source_group!r} has no committed offset "
                    "there; left out."
                )
                continue
            target = (source or {})[key]
        elif s == "offsets":
            if key not in explicit:
                continue
            target = explicit[key]
        else:
            raise InvalidRequest(f"strategy must be one of {', '.join(STRATEGIES)}.")
        new, clamped = _clamp(target, low, high)
        rows.append(
            ResetRow(
                topic=key[0],
                partition=key[1],
                current=now,
                new=new,
                low=low,
                high=high,
                lag_before=None if now is None else high - now,
                lag_after=high - new,
                clamped=clamped,
            )
        )
    return tuple(rows), tuple(notes)


def _fingerprint(state: str, rows: Iterable[ResetRow]) -> str:
    # What the user confirmed: the group's state, each partition's current offset and
    # the offset it will get. Anything else changing (the log end growing) is harmless.
    basis = [state, [(r.topic, r.partition, r.current, r.new) for r in rows]]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]


def _committed(cluster: str, group: str) -> dict[Key, int]:
    admin = admin_client(cluster=cluster)
    future = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=request_timeout()
    )[group]
    result = wait(future, cluster=cluster)
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions
        if tp.error is None and tp.offset >= 0
    }


def _request_check(
    *,
    cluster: str,
    request: ResetRequest,
    visible_topic: Callable[[str], bool] | None,
    visible_group: Callable[[str], bool] | None,
) -> None:
    """What can be refused before Kafka is asked: the strategy, its arguments, and scope."""
    if request.strategy not in STRATEGIES:
        raise InvalidRequest(f"strategy must be one of {', '.join(STRATEGIES)}.")
    if request.strategy == "copy":
        if not request.source_group:
            raise InvalidRequest("Name the group to copy offsets from.")
        if visible_group is not None and not visible_group(request.source_group):
            raise GroupNotFound(cluster=cluster, group=request.source_group)
    if visible_topic is not None and request.topic and not visible_topic(request.topic):
        raise TopicNotFound(cluster=cluster, topic=request.topic)
    if request.strategy == "offset" and request.offset is None:
        raise InvalidRequest("Give the offset to reset to.")
    if request.strategy == "shift" and request.shift is None:
        raise InvalidRequest("Give the number of messages to shift by (negative: back).")
    if request.strategy == "timestamp" and request.timestamp_ms is None:
        raise InvalidRequest("Give the time to reset to.")


def _resettable(detail: Group | ShareGroup, request: ResetRequest) -> dict[Key, int]:
    """The group's current positions; refused for a live group (Kafka cannot move them)."""
    if isinstance(detail, ShareGroup) and request.strategy == "copy":
        raise InvalidRequest("A share group's start offsets cannot be copied from another group.")
    if detail.state not in RESETTABLE_STATES or detail.members:
        members = ", ".join(f"{m.client_id} ({m.host})" for m in detail.members) or "none listed"
        raise GroupNotEmpty(
            f"Group {detail.group!r} is {detail.state} with {len(detail.members)} active "
            f"member(s): {members}. Kafka cannot move the offsets of a live group (the members "
            "would overwrite them with their next commit); stop its consumers first."
        )
    # A share group has no committed offsets: its share-partitions' start offsets play
    # that part (where delivery resumes), and a reset moves them (KIP-932).
    current: dict[Key, int | None] = (
        {(p.topic, p.partition): p.start_offset for p in detail.partitions}
        if isinstance(detail, ShareGroup)
        else {(p.topic, p.partition): p.committed_offset for p in detail.partitions}
    )
    return {k: v for k, v in current.items() if v is not None}


def _scope_keys(
    *,
    cluster: str,
    request: ResetRequest,
    committed: dict[Key, int],
    visible_topic: Callable[[str], bool] | None,
) -> set[Key]:
    """The partitions the reset is about (a hidden topic answers as a missing one)."""
    topics = metadata_topics(cluster=cluster)
    if request.partitions:
        keys = set(request.partitions)
        for t, p in keys:
            hidden = visible_topic is not None and not visible_topic(t)
            if hidden or t not in topics or p not in topics[t].partitions:
                raise InvalidRequest(f"{t}-{p} is not a partition of this cluster.")
    elif request.topic:
        if request.topic not in topics:
            raise TopicNotFound(cluster=cluster, topic=request.topic)
        keys = {(request.topic, p) for p in topics[request.topic].partitions}
    elif request.strategy == "offsets":
        keys = {(t, p) for t, p, _ in request.offsets or ()}
    else:
        # All topics the group has committed offsets on, every partition of each.
        names = {t for t, _ in committed}
        keys = {(t, p) for t in names if t in topics for p in topics[t].partitions}
    if visible_topic is not None:
        keys = {k for k in keys if visible_topic(k[0])}
    if not keys:
        raise InvalidRequest(
            "Nothing to reset: the group has no committed offsets; choose a topic."
        )
    return keys


def _share_rows(
    detail: ShareGroup, rows: tuple[ResetRow, ...], notes: tuple[str, ...]
) -> tuple[tuple[ResetRow, ...], tuple[str, ...]]:
    # The broker's lag, not end - start: records past the start offset may be done.
    lags = {(p.topic, p.partition): p.lag for p in detail.partitions}
    rows = tuple(dataclasses.replace(r, lag_before=lags.get((r.topic, r.partition))) for r in rows)
    return rows, (
        *notes,
        "A share group keeps no record of which records past a start offset were "
        "acknowledged once it is moved: from the new start offset on, every record is "
        "delivered again, and an undo restores the start offsets only.",
    )


def reset_plan(
    *,
    cluster: str,
    group: str,
    request: ResetRequest,
    visible_topic: Callable[[str], bool] | None = None,
    visible_group: Callable[[str], bool] | None = None,
) -> ResetPlan:
    """Preview a reset: refused for a group with members; every partition's new offset.

    With visible_topic, partitions of other topics are neither shown nor moved, and a
    hidden topic answers exactly as a missing one. With visible_group, a copy's source
    group must be visible (else GroupNotFound, as if it did not exist): checked here,
    before anything is read, so no caller can forget it.
    """
    _request_check(
        cluster=cluster, request=request, visible_topic=visible_topic, visible_group=visible_group
    )
    detail = group_detail(cluster=cluster, group=group)
    committed = _resettable(detail, request)
    keys = _scope_keys(
        cluster=cluster, request=request, committed=committed, visible_topic=visible_topic
    )
    marks = {
        k: (w.low, w.high) for k, w in watermarks_all(cluster=cluster, partitions=keys).items()
    }
    by_time = None
    if request.strategy == "timestamp" and request.timestamp_ms is not None:
        futures = offsets_send(
            cluster=cluster, keys=keys, spec=OffsetSpec.for_timestamp(request.timestamp_ms)
        )
        by_time = {k: wait(f, cluster=cluster).offset for k, f in futures.items()}
    source = None
    if request.strategy == "copy" and request.source_group:
        source = _committed(cluster, request.source_group)
    rows, notes = reset_rows(
        request=request, keys=keys, current=committed, marks=marks, by_time=by_time, source=source
    )
    if not rows:
        raise InvalidRequest("Nothing to reset. " + " ".join(notes))
    if isinstance(detail, ShareGroup):
        rows, notes = _share_rows(detail, rows, notes)
    return ResetPlan(
        cluster=cluster,
        group=group,
        state=detail.state,
        request=request,
        rows=rows,
        fingerprint=_fingerprint(detail.state, rows),
        notes=notes,
        group_type=detail.type,
    )


def reset_confirm(
    *,
    cluster: str,
    group: str,
    request: ResetRequest,
    fingerprint: str,
    visible_topic: Callable[[str], bool] | None = None,
    visible_group: Callable[[str], bool] | None = None,
) -> ResetPlan:
    """Plan again; PlanChanged (with the new plan) if it differs from what was previewed."""
    plan = reset_plan(
        cluster=cluster,
        group=group,
        request=request,
        visible_topic=visible_topic,
        visible_group=visible_group,
    )
    if plan.fingerprint != fingerprint:
        raise PlanChanged(plan)
    return plan


def reset_apply(*, plan: ResetPlan) -> ResetOutcome:
    """Commit the plan's offsets for the group; Kafka answers per partition."""
    if plan.group_type == "share":
        rows = [(r.topic, r.partition, r.new) for r in plan.rows]
        results = share_offsets_alter(cluster=plan.cluster, group=plan.group, offsets=rows)
        return ResetOutcome(plan=plan, results=results)
    # Kafka itself refuses offsets for a group that gained members since the plan
    # (the coordinator answers with an error per partition), so none is overwritten.
    admin = admin_client(cluster=plan.cluster)
    offsets = [TopicPartition(r.topic, r.partition, r.new) for r in plan.rows]
    future = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(plan.group, offsets)], request_timeout=request_timeout()
    )[plan.group]
    answered = wait(future, cluster=plan.cluster)
    errors = {
        (tp.topic, tp.partition): (tp.error.str() if tp.error else None)
        for tp in answered.topic_partitions
    }
    results = tuple(
        (r.topic, r.partition, r.new, errors.get((r.topic, r.partition))) for r in plan.rows
    )
    return ResetOutcome(plan=plan, results=results)
