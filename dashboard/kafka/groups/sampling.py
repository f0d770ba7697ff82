"""One sample of a whole cluster for the lag sampler: groups, members, commits, end offsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.groups.lag import offsets_known
from dashboard.kafka.groups.read import (
    GroupRaw,
    Member,
    groups_read,
    raw_members,
    raw_state,
    raw_type,
)
from dashboard.kafka.topics import is_internal, metadata_topics


@dataclass(frozen=True)
class GroupSample:
    """A group at sampling time: state, members with their assignments, committed offsets."""

    group: str
    state: str
    members: tuple[Member, ...]
    # Committed offsets; for a share group, its share-partitions' start offsets.
    committed: dict[tuple[str, int], int]
    type: str = "classic"
    # The broker's own lag where it counts it (share groups: not end - start offset).
    lags: dict[tuple[str, int], int] | None = None


@dataclass(frozen=True)
class ClusterSample:
    """Every group and the log-end offset of every partition, read in one round."""

    cluster: str
    groups: tuple[GroupSample, ...]
    ends: dict[tuple[str, int], int]
    read_at: datetime
    # Per topic: partitions with a replica out of the ISR, and partitions with no leader.
    under_replicated: dict[str, int] = field(default_factory=dict)
    offline: dict[str, int] = field(default_factory=dict)


def cluster_sample(*, cluster: str) -> ClusterSample:
    """Groups (state, members, commits) and every partition's end offset, all requests in flight."""
    raws = groups_read(cluster=cluster, idle_described=False).raws
    keys: set[tuple[str, int]] = set()
    under: dict[str, int] = {}
    offline: dict[str, int] = {}
    for name, meta in metadata_topics(cluster=cluster).items():
        if not is_internal(name) and meta.error is None:
            keys.update((name, p) for p in meta.partitions)
            parts = meta.partitions.values()
            under[name] = sum(1 for p in parts if len(p.isrs) < len(p.replicas))
            offline[name] = sum(1 for p in parts if p.leader < 0)
    for raw in raws:
        keys.update(raw.committed)
    ends = offsets_known(cluster=cluster, keys=keys, spec=OffsetSpec.latest())
    groups = tuple(_sample(raw) for raw in raws)
    return ClusterSample(
        cluster=cluster,
        groups=groups,
        ends={k: v for k, v in ends.items() if v is not None},
        read_at=datetime.now(UTC),
        under_replicated=under,
        offline=offline,
    )


def _sample(raw: GroupRaw) -> GroupSample:
    if raw.share is not None:
        parts = [p for p in raw.share.partitions if p.start_offset is not None]
        return GroupSample(
            group=raw.group,
            state=raw_state(raw),
            members=raw_members(raw),
            committed={(p.topic, p.partition): p.start_offset or 0 for p in parts},
            type="share",
            lags={(p.topic, p.partition): p.lag for p in parts if p.lag is not None},
        )
    return GroupSample(
        group=raw.group,
        state=raw_state(raw),
        members=raw_members(raw),
        committed=raw.committed,
        type=raw_type(raw),
    )
