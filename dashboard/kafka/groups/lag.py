"""Consumer groups: members, assignments, committed offsets and lag (reads).

Every group's requests are sent before any is awaited: one DescribeGroups call for
all groups, one OffsetFetch per coordinator for up to 500 groups (OffsetFetch v8+,
through our protocol module; librdkafka's takes one group a call), then one batched
ListOffsets for every partition involved.
Lag follows Kafka's ConsumerGroupCommand: log-end offset (high watermark) minus
committed offset, and no lag where nothing is committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.client.clients import wait
from dashboard.kafka.errors import GroupNotFound, InvalidRequest
from dashboard.kafka.groups.consumer import ConsumerProtocolDescription
from dashboard.kafka.groups.read import (
    GroupListing,
    GroupRaw,
    Member,
    groups_raw,
    groups_read,
    raw_assignor,
    raw_members,
    raw_simple,
    raw_state,
    raw_type,
)
from dashboard.kafka.groups.share import ShareGroup, share_group
from dashboard.kafka.groups.streams import StreamsDescription
from dashboard.kafka.internals import partitions_of
from dashboard.kafka.protocol.wire import Unsupported
from dashboard.kafka.topics import (
    metadata_topic,
    metadata_topics,
    offsets_asked,
    offsets_send,
)
from dashboard.kafka.transactions import COUNT_MAX_PARTITION, COUNT_MAX_TOTAL, readable_count

# States in which the group's members hold no settled assignment.
REBALANCING = {"preparing_rebalancing", "completing_rebalancing", "assigning", "reconciling"}


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
    # The last stable offset: a read_committed consumer reads no further while a
    # transaction open on the partition started before it. Equal to the log end when none is.
    last_stable_offset: int | None = None
    # What a read_committed consumer has left it can read now (up to the LSO): the records
    # it will be given when counted (read_committed_counted), else the offsets up to the LSO.
    lag_read_committed: int | None = None
    read_committed_counted: bool = False
    # Offsets between the committed offset and the LSO it is never given: commit and abort
    # markers and aborted records. Why a lag of a few never goes away; None when not counted.
    unreadable: int | None = None


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
    error: str | None = None  # the group could not be described; its row stays


@dataclass(frozen=True)
class GroupList:
    """Every group of a cluster and when it was read."""

    cluster: str
    groups: tuple[GroupSummary, ...]
    read_at: datetime
    notice: str | None = None  # group types that could not be listed, said on the page


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
    error: str | None = None
    streams: StreamsDescription | None = None  # a streams group's topology and tasks
    consumer_protocol: ConsumerProtocolDescription | None = None  # KIP-848 epochs


def offsets_known(
    *,
    cluster: str,
    keys: Iterable[tuple[str, int]],
    spec: OffsetSpec,
    read_committed: bool = False,
    metadata: Any | None = None,
) -> dict[tuple[str, int], int | None]:
    """Offsets by spec; None for a partition Kafka no longer knows (e.g. a deleted topic).
    metadata: the leaders to ask (else the last metadata read, if recent)."""
    return offsets_known_many(
        cluster=cluster, keys=keys, asks={0: (spec, read_committed)}, metadata=metadata
    )[0]


def offsets_known_many(
    *,
    cluster: str,
    keys: Iterable[tuple[str, int]],
    asks: dict[Any, tuple[OffsetSpec, bool]],
    metadata: Any | None = None,
) -> dict[Any, dict[tuple[str, int], int | None]]:
    """offsets_known for several (spec, read_committed) asks of the same keys, sent together
    (a group page's ends, starts and last stable offsets were three rounds one after another)."""
    keys = list(keys)
    out: dict[Any, dict[tuple[str, int], int | None]] = {label: {} for label in asks}
    stamps = {"EarliestSpec": -2, "LatestSpec": -1}
    fast = {
        label: (stamps[type(spec).__name__], committed)
        for label, (spec, committed) in asks.items()
        if type(spec).__name__ in stamps
    }
    # Our own ListOffsets, a request a leader; what it cannot answer goes librdkafka's way.
    found, left = offsets_asked(cluster=cluster, keys=keys, asks=fast, metadata=metadata)
    for (label, key), offset in found.items():
        if key not in left:
            out[label][key] = offset
    sent = {
        label: offsets_send(
            cluster=cluster,
            keys=keys if label not in fast else left,
            spec=spec,
            read_committed=committed,
        )
        for label, (spec, committed) in asks.items()
    }
    for label, futures in sent.items():
        for key, future in futures.items():
            try:
                out[label][key] = wait(future, cluster=cluster).offset
            except InvalidRequest:
                out[label][key] = None
    return out


def _lag(committed: int | None, end: int | None) -> int | None:
    # As ConsumerGroupCommand: no lag without a committed offset or a known end.
    if committed is None or end is None:
        return None
    return end - committed


def _all_groups(
    *, cluster: str, only: Sequence[str] | None = None, listing: GroupListing | None = None
) -> tuple[list[GroupRaw], dict[tuple[str, int], int | None], str | None]:
    """Every listed group's raw data plus the log-end offsets of every partition involved."""
    read = groups_read(cluster=cluster, only=only, listing=listing, idle_described=False)
    involved: set[tuple[str, int]] = set()
    for raw in read.raws:
        involved.update(raw.committed)
        for m in raw_members(raw):
            involved.update(m.assignment)
    ends = offsets_known(cluster=cluster, keys=involved, spec=OffsetSpec.latest())
    return read.raws, ends, read.notice


def _share_lag(raw: GroupRaw) -> dict[tuple[str, int], int | None]:
    # The broker counts a share group's lag (KIP-1226); it is not end - start offset,
    # since records after the start offset may already be acknowledged.
    assert raw.share is not None
    return {(p.topic, p.partition): p.lag for p in raw.share.partitions}


def _summary(
    raw: GroupRaw,
    ends: dict[tuple[str, int], int | None],
    *,
    topic: str | None = None,
    visible_topic: Callable[[str], bool] | None = None,
) -> GroupSummary:
    """A group's list row; with topic, only that topic's partitions count; partitions of
    topics that are not visible_topic are left out (and out of the totals)."""
    members = raw_members(raw)
    if raw.share is not None:
        lag_by_key = _share_lag(raw)
        keys = set(lag_by_key)
        without = sum(1 for p in raw.share.partitions if p.start_offset is None)
    else:
        keys = set(raw.committed)
        for m in members:
            keys.update(m.assignment)
        without = 0
    if topic is not None:
        keys = {k for k in keys if k[0] == topic}
    if visible_topic is not None:
        keys = {k for k in keys if visible_topic(k[0])}
    if raw.share is None:
        # Only the partitions kept: a topic's page would count every topic's lag.
        committed = raw.committed
        lag_by_key = {k: _lag(committed.get(k), ends.get(k)) for k in keys}
        without = sum(1 for k in keys if k not in committed)
    lags = [lag for key in keys if (lag := lag_by_key.get(key)) is not None]
    return GroupSummary(
        group=raw.group,
        state=raw_state(raw),
        type=raw_type(raw),
        assignor=raw_assignor(raw),
        simple=raw_simple(raw),
        members=len(members),
        topics=tuple(sorted({t for t, _ in keys})),
        total_lag=sum(lags),
        max_lag=max(lags, default=0),
        partitions=len(keys),
        partitions_without_commit=without,
        error=raw.error,
    )


def group_list(
    *,
    cluster: str,
    only: Sequence[str] | None = None,
    listing: GroupListing | None = None,
    visible_topic: Callable[[str], bool] | None = None,
) -> GroupList:
    """Every group of every type (or only the named ones) with state, members and lag;
    partitions of topics that are not visible_topic are left out."""
    raws, ends, notice = _all_groups(cluster=cluster, only=only, listing=listing)
    rows = tuple(_summary(raw, ends, visible_topic=visible_topic) for raw in raws)
    return GroupList(cluster=cluster, groups=rows, read_at=datetime.now(UTC), notice=notice)


def _readable(
    cluster: str,
    committed: dict[tuple[str, int], int],
    starts: dict[tuple[str, int], int | None],
    stable: dict[tuple[str, int], int | None],
) -> dict[tuple[str, int], int]:
    # Small gaps only, smallest first, within a total: see COUNT_MAX_PARTITION.
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    total = 0
    gaps = []
    for key, offset in committed.items():
        start, end = starts.get(key), stable.get(key)
        # Below the log start the records are gone (retention), not unreadable.
        if start is None or end is None or offset < start or offset > end:
            continue
        gaps.append((end - offset, key, offset, end))
    for gap, key, offset, end in sorted(gaps):
        if gap > COUNT_MAX_PARTITION or total + gap > COUNT_MAX_TOTAL:
            break
        total += gap
        ranges[key] = (offset, end)
    if not ranges:
        return {}
    return readable_count(cluster=cluster, ranges=ranges)


def _partitions_of(cluster: str, names: set[str]) -> dict[str, tuple[int, ...]]:
    # The group's topics alone; a cluster before Kafka 3.8 is read whole.
    if not names:
        return {}
    try:
        return partitions_of(cluster=cluster, topics=names)
    except (Unsupported, InvalidRequest):
        meta = metadata_topics(cluster=cluster)
        return {n: tuple(meta[n].partitions) for n in names if n in meta and meta[n].error is None}


def group_detail(*, cluster: str, group: str) -> Group | ShareGroup:
    """One group: members, partition->member map, offsets and lag (a ShareGroup for share)."""
    if not group or len(group) > 1000:
        raise InvalidRequest("A consumer group id must be 1-1000 characters.")
    read = groups_read(cluster=cluster, only=[group])
    if read.raws:
        (raw,) = read.raws
    else:
        # Not listed: a group that only ever committed, or none at all; ask its coordinator.
        (raw,) = groups_raw(cluster=cluster, group_ids=[group])
    members = raw_members(raw)
    state = raw_state(raw)
    if not read.raws and not raw.committed and not members and state in {"dead", "unknown"}:
        raise GroupNotFound(cluster=cluster, group=group)
    if raw.share is not None:
        return share_group(cluster=cluster, description=raw.share, coordinator=raw.coordinator)
    owners: dict[tuple[str, int], Member] = {}
    for m in members:
        for key in m.assignment:
            owners[key] = m
    # Every partition of every topic the group touches, so a partition with no
    # committed offset shows as such (it starts at auto.offset.reset when consumed).
    topic_names = {t for t, _ in raw.committed} | {t for t, _ in owners}
    keys: set[tuple[str, int]] = set(raw.committed) | set(owners)
    for name, ids in _partitions_of(cluster, topic_names).items():
        keys.update((name, p) for p in ids)
    offsets = offsets_known_many(
        cluster=cluster,
        keys=keys,
        asks={
            "end": (OffsetSpec.latest(), False),
            "start": (OffsetSpec.earliest(), False),
            "stable": (OffsetSpec.latest(), True),
        },
    )
    ends, starts, stable = offsets["end"], offsets["start"], offsets["stable"]
    readable = _readable(cluster, raw.committed, starts, stable)
    partitions = []
    for key in sorted(keys):
        owner = owners.get(key)
        committed = raw.committed.get(key)
        gap = _lag(committed, stable.get(key))
        counted = readable.get(key)
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
                last_stable_offset=stable.get(key),
                lag_read_committed=None
                if gap is None
                else (counted if counted is not None else max(gap, 0)),
                read_committed_counted=counted is not None,
                unreadable=None if counted is None or gap is None else max(gap, 0) - counted,
            )
        )
    lags = [p.lag for p in partitions if p.lag is not None]
    description = raw.description
    coordinator = getattr(description, "coordinator", None) if description else None
    return Group(
        cluster=cluster,
        group=group,
        state=state,
        type=raw_type(raw),
        assignor=raw_assignor(raw),
        simple=raw_simple(raw),
        coordinator=coordinator.id if coordinator is not None else raw.coordinator,
        members=members,
        partitions=tuple(partitions),
        topics=tuple(sorted(topic_names)),
        total_lag=sum(lags),
        max_lag=max(lags, default=0),
        partitions_without_commit=sum(1 for p in partitions if p.committed_offset is None),
        rebalancing=state in REBALANCING,
        read_at=datetime.now(UTC),
        error=raw.error,
        streams=raw.streams,
        consumer_protocol=raw.consumer_protocol,
    )


def group_visible(group: Group | ShareGroup, visible_topic: Callable[[str], bool]) -> Any:
    """The group with every trace of hidden topics left out: partitions, assignments and
    target assignments, subscriptions (a subscription regex is hidden whole: it may name
    them), a streams topology's topics, and the totals."""

    def only(topics: Iterable[str]) -> tuple[str, ...]:
        return tuple(t for t in topics if visible_topic(t))

    def pairs(tps: Iterable[tuple[str, int]] | None) -> Any:
        return None if tps is None else tuple(tp for tp in tps if visible_topic(tp[0]))

    kept = tuple(p for p in group.partitions if visible_topic(p.topic))
    members: list[Any] = []
    for m in group.members:
        changes: dict[str, Any] = {"assignment": pairs(m.assignment)}
        if isinstance(m, Member):
            changes["target_assignment"] = pairs(m.target_assignment)
        else:  # a share group's member
            changes["subscribed_topics"] = only(m.subscribed_topics)
        members.append(dataclasses.replace(m, **changes))
    lags = [p.lag for p in kept if p.lag is not None]
    out: dict[str, Any] = {
        "partitions": kept,
        "members": tuple(members),
        "topics": only(group.topics),
        "total_lag": sum(lags),
        "max_lag": max(lags, default=0),
    }
    if isinstance(group, Group):
        out["partitions_without_commit"] = sum(
            1 for p in kept if isinstance(p, PartitionLag) and p.committed_offset is None
        )
        if group.consumer_protocol is not None:
            out["consumer_protocol"] = dataclasses.replace(
                group.consumer_protocol,
                members=tuple(
                    dataclasses.replace(
                        m,
                        subscribed_topics=only(m.subscribed_topics),
                        subscribed_regex="(hidden)" if m.subscribed_regex else None,
                    )
                    for m in group.consumer_protocol.members
                ),
            )
        if group.streams is not None:
            out["streams"] = dataclasses.replace(
                group.streams,
                subtopologies=tuple(
                    dataclasses.replace(
                        s,
                        source_topics=only(s.source_topics),
                        repartition_sink_topics=only(s.repartition_sink_topics),
                        repartition_source_topics=only(s.repartition_source_topics),
                        changelog_topics=only(s.changelog_topics),
                    )
                    for s in group.streams.subtopologies
                ),
            )
    return dataclasses.replace(group, **out)


# The widest topic whose page asks each group for that topic's partitions alone; about
# what a group commits on in all (each group answers every partition asked for).
TOPIC_FILTER_PARTITIONS_MAX = 16


def topic_groups(*, cluster: str, topic: str) -> tuple[GroupSummary, ...]:
    """The groups that consume a topic (commits or assignments on it), with lag on that topic."""
    cluster_meta = metadata_topic(cluster=cluster, topic=topic)
    meta = cluster_meta.topics.get(topic)
    if meta is not None and meta.error is not None:
        meta = None
    # Every group's commits on this topic alone: all their commits were 10,000 groups' x
    # 4 topics' partitions read and decoded for a 4-partition topic's page (bench/big.py).
    # But the broker answers each partition asked for, committed or not: 10,000 groups x
    # 1,000 partitions was 10 million entries (27 s), so a wide topic reads every commit,
    # which holds only committed partitions. A topic Kafka no longer knows may still have
    # commits: then every commit is read too.
    filtered = meta is not None and len(meta.partitions) <= TOPIC_FILTER_PARTITIONS_MAX
    read = groups_read(
        cluster=cluster,
        idle_described=False,
        partitions={topic: sorted(meta.partitions)} if filtered else None,
    )
    # Only this topic's log ends.
    involved: set[tuple[str, int]] = set()
    for raw in read.raws:
        involved.update(k for k in raw.committed if k[0] == topic)
        for m in raw_members(raw):
            involved.update(k for k in m.assignment if k[0] == topic)
    ends = offsets_known(
        cluster=cluster, keys=involved, spec=OffsetSpec.latest(), metadata=cluster_meta
    )
    rows = (_summary(raw, ends, topic=topic) for raw in read.raws)
    return tuple(row for row in rows if row.partitions)
