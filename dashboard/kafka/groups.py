"""Consumer groups: members, assignments, committed offsets and lag (reads).

Every group's requests are sent before any is awaited: one DescribeGroups call for
all groups, one OffsetFetch per group (the API takes one group per call) all in
flight together, then one batched ListOffsets for every partition involved.
Lag follows Kafka's ConsumerGroupCommand: log-end offset (high watermark) minus
committed offset, and no lag where nothing is committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
)
from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.clusters import (
    admin_client,
    groups_listed,
    request_timeout,
    translate,
    wait,
)
from dashboard.kafka.errors import GroupNotFound, InvalidRequest
from dashboard.kafka.topics import metadata_topics, offsets_send

# States in which the group's members hold no settled assignment.
REBALANCING = {"preparing_rebalancing", "completing_rebalancing", "assigning", "reconciling"}


@dataclass(frozen=True)
class Member:
    """A member of a group and the partitions it owns."""

    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PartitionLag:
    """A partition as the group sees it: committed offset, log-end offset, lag, owner."""

    topic: str
    partition: int
    committed_offset: int | None
    log_end_offset: int | None
    log_start_offset: int | None
    lag: int | None
    owner_member_id: str | None
    owner_client_id: str | None
    # Without a committed offset: the lag a consumer would start with under
    # auto.offset.reset=earliest (all retained messages); under latest it is 0.
    lag_if_earliest: int | None = None


@dataclass(frozen=True)
class GroupSummary:
    """A row of the group list."""

    group: str
    state: str
    type: str
    assignor: str
    simple: bool
    members: int
    topics: tuple[str, ...]
    total_lag: int
    max_lag: int
    partitions: int
    partitions_without_commit: int


@dataclass(frozen=True)
class GroupList:
    """Every group of a cluster and when it was read."""

    cluster: str
    groups: tuple[GroupSummary, ...]
    read_at: datetime


@dataclass(frozen=True)
class Group:
    """One group in full: members, partition→member map, per-partition lag and totals."""

    cluster: str
    group: str
    state: str
    type: str
    assignor: str
    simple: bool
    coordinator: int | None
    members: tuple[Member, ...]
    partitions: tuple[PartitionLag, ...]
    topics: tuple[str, ...]
    total_lag: int
    max_lag: int
    partitions_without_commit: int
    rebalancing: bool
    read_at: datetime


@dataclass(frozen=True)
class GroupRaw:
    """What Kafka said about one group, before lag is computed."""

    group: str
    description: Any | None  # ConsumerGroupDescription, or None where it could not be described
    committed: dict[tuple[str, int], int]
    listing_state: str | None
    listing_type: str | None


def _enum_name(value: Any, default: str = "unknown") -> str:
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) else default


def _result_or_none(future: Future[Any], *, cluster: str) -> Any | None:
    """A group's result, or None when Kafka says it has no such group."""
    try:
        return future.result(timeout=request_timeout() + 0.5)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return None
        raise translate(exc, cluster=cluster) from None
    except TimeoutError:
        raise translate(TimeoutError("no answer in time"), cluster=cluster) from None


def groups_raw(
    *, cluster: str, group_ids: Sequence[str], listing: dict[str, Any] | None = None
) -> list[GroupRaw]:
    """Describe the groups and fetch their committed offsets, every request in flight at once."""
    admin = admin_client(cluster=cluster)
    timeout = request_timeout()
    if not group_ids:
        return []
    described = admin.describe_consumer_groups(list(group_ids), request_timeout=timeout)
    offsets = {
        g: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(g)], request_timeout=timeout
        )[g]
        for g in group_ids
    }
    raws = []
    for g in group_ids:
        description = _result_or_none(described[g], cluster=cluster)
        fetched = _result_or_none(offsets[g], cluster=cluster)
        committed = {}
        if fetched is not None:
            for tp in fetched.topic_partitions:
                # A negative offset (-1001) means "nothing committed" for that partition.
                if tp.error is None and tp.offset >= 0:
                    committed[(tp.topic, tp.partition)] = tp.offset
        entry = (listing or {}).get(g)
        raws.append(
            GroupRaw(
                group=g,
                description=description,
                committed=committed,
                listing_state=_enum_name(entry.state) if entry is not None else None,
                listing_type=_enum_name(entry.type) if entry is not None else None,
            )
        )
    return raws


def offsets_known(
    *, cluster: str, keys: Iterable[tuple[str, int]], spec: OffsetSpec
) -> dict[tuple[str, int], int | None]:
    """Offsets by spec; None for a partition Kafka no longer knows (e.g. a deleted topic)."""
    out: dict[tuple[str, int], int | None] = {}
    for key, future in offsets_send(cluster=cluster, keys=keys, spec=spec).items():
        try:
            out[key] = wait(future, cluster=cluster).offset
        except InvalidRequest:
            out[key] = None
    return out


def group_members(description: Any | None) -> tuple[Member, ...]:
    """The members of a described group, with their assignments, sorted by client id."""
    if description is None:
        return ()
    members = []
    for m in description.members:
        assignment = m.assignment.topic_partitions if m.assignment else []
        members.append(
            Member(
                member_id=m.member_id,
                client_id=m.client_id,
                host=(m.host or "").lstrip("/"),
                group_instance_id=m.group_instance_id,
                assignment=tuple(sorted((tp.topic, tp.partition) for tp in assignment)),
            )
        )
    return tuple(sorted(members, key=lambda m: (m.client_id, m.member_id)))


def group_state(raw: GroupRaw) -> str:
    """The group's state as described, else as listed, else dead."""
    if raw.description is not None:
        return _enum_name(raw.description.state)
    return raw.listing_state or "dead"


def _type(raw: GroupRaw) -> str:
    described = getattr(raw.description, "type", None) if raw.description else None
    name = _enum_name(described, default="")
    if name and name != "unknown":
        return name
    return raw.listing_type or "unknown"


def _lag(committed: int | None, end: int | None) -> int | None:
    # As ConsumerGroupCommand: no lag without a committed offset or a known end.
    if committed is None or end is None:
        return None
    return end - committed


def _all_groups(*, cluster: str) -> tuple[list[GroupRaw], dict[tuple[str, int], int | None]]:
    """Every listed group's raw data plus the log-end offsets of every partition involved."""
    listing = {g.group_id: g for g in groups_listed(cluster=cluster)}
    raws = groups_raw(cluster=cluster, group_ids=sorted(listing), listing=listing)
    involved: set[tuple[str, int]] = set()
    for raw in raws:
        involved.update(raw.committed)
        for m in group_members(raw.description):
            involved.update(m.assignment)
    ends = offsets_known(cluster=cluster, keys=involved, spec=OffsetSpec.latest())
    return raws, ends


def _summary(
    raw: GroupRaw, ends: dict[tuple[str, int], int | None], *, topic: str | None = None
) -> GroupSummary:
    """A group's list row; with topic, only that topic's partitions count."""
    members = group_members(raw.description)
    keys = set(raw.committed)
    for m in members:
        keys.update(m.assignment)
    if topic is not None:
        keys = {k for k in keys if k[0] == topic}
    lags = [lag for key in keys if (lag := _lag(raw.committed.get(key), ends.get(key))) is not None]
    description = raw.description
    return GroupSummary(
        group=raw.group,
        state=group_state(raw),
        type=_type(raw),
        assignor=(description.partition_assignor or "") if description else "",
        simple=bool(description.is_simple_consumer_group) if description else False,
        members=len(members),
        topics=tuple(sorted({t for t, _ in keys})),
        total_lag=sum(lags),
        max_lag=max(lags, default=0),
        partitions=len(keys),
        partitions_without_commit=sum(1 for k in keys if k not in raw.committed),
    )


def group_list(*, cluster: str) -> GroupList:
    """Every group (empty and dead included) with state, members, topics and lag totals."""
    raws, ends = _all_groups(cluster=cluster)
    rows = tuple(_summary(raw, ends) for raw in raws)
    return GroupList(cluster=cluster, groups=rows, read_at=datetime.now(UTC))


def group_detail(*, cluster: str, group: str) -> Group:
    """One group: members, partition→member map, committed/log-end offsets, lag and totals."""
    if not group or len(group) > 1000:
        raise InvalidRequest("A consumer group id must be 1-1000 characters.")
    admin = admin_client(cluster=cluster)
    listed_future = admin.list_consumer_groups(request_timeout=request_timeout())
    (raw,) = groups_raw(cluster=cluster, group_ids=[group])
    listing = {g.group_id: g for g in groups_listed(cluster=cluster, future=listed_future)}
    members = group_members(raw.description)
    state = group_state(raw)
    if group not in listing and not raw.committed and not members and state in {"dead", "unknown"}:
        raise GroupNotFound(cluster=cluster, group=group)
    if group in listing:
        entry = listing[group]
        raw = GroupRaw(
            group=group,
            description=raw.description,
            committed=raw.committed,
            listing_state=_enum_name(entry.state),
            listing_type=_enum_name(entry.type),
        )
    owners: dict[tuple[str, int], Member] = {}
    for m in members:
        for key in m.assignment:
            owners[key] = m
    # Every partition of every topic the group touches, so a partition with no
    # committed offset shows as such (it starts at auto.offset.reset when consumed).
    topic_names = {t for t, _ in raw.committed} | {t for t, _ in owners}
    keys: set[tuple[str, int]] = set(raw.committed) | set(owners)
    if topic_names:
        meta = metadata_topics(cluster=cluster)
        for name in topic_names:
            if name in meta and meta[name].error is None:
                keys.update((name, p) for p in meta[name].partitions)
    ends = offsets_known(cluster=cluster, keys=keys, spec=OffsetSpec.latest())
    starts = offsets_known(cluster=cluster, keys=keys, spec=OffsetSpec.earliest())
    partitions = []
    for key in sorted(keys):
        owner = owners.get(key)
        committed = raw.committed.get(key)
        partitions.append(
            PartitionLag(
                topic=key[0],
                partition=key[1],
                committed_offset=committed,
                log_end_offset=ends.get(key),
                log_start_offset=starts.get(key),
                lag=_lag(committed, ends.get(key)),
                owner_member_id=owner.member_id if owner else None,
                owner_client_id=owner.client_id if owner else None,
                lag_if_earliest=_lag(starts.get(key), ends.get(key)) if committed is None else None,
            )
        )
    lags = [p.lag for p in partitions if p.lag is not None]
    description = raw.description
    coordinator = getattr(description, "coordinator", None) if description else None
    return Group(
        cluster=cluster,
        group=group,
        state=group_state(raw),
        type=_type(raw),
        assignor=(description.partition_assignor or "") if description else "",
        simple=bool(description.is_simple_consumer_group) if description else False,
        coordinator=coordinator.id if coordinator is not None else None,
        members=members,
        partitions=tuple(partitions),
        topics=tuple(sorted(topic_names)),
        total_lag=sum(lags),
        max_lag=max(lags, default=0),
        partitions_without_commit=sum(1 for p in partitions if p.committed_offset is None),
        rebalancing=group_state(raw) in REBALANCING,
        read_at=datetime.now(UTC),
    )


def topic_groups(*, cluster: str, topic: str) -> tuple[GroupSummary, ...]:
    """The groups that consume a topic (commits or assignments on it), with lag on that topic."""
    raws, ends = _all_groups(cluster=cluster)
    rows = (_summary(raw, ends, topic=topic) for raw in raws)
    return tuple(row for row in rows if row.partitions)
