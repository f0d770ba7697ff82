"""One sample of a whole cluster for the lag sampler: groups, members, commits, end offsets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.clusters import groups_listed
from dashboard.kafka.groups import (
    Member,
    group_members,
    group_state,
    groups_raw,
    offsets_known,
)
from dashboard.kafka.topics import is_internal, metadata_topics


@dataclass(frozen=True)
class GroupSample:
    """A group at sampling time: state, members with their assignments, committed offsets."""

    group: str
    state: str
    members: tuple[Member, ...]
    committed: dict[tuple[str, int], int]


@dataclass(frozen=True)
class ClusterSample:
    """Every group and the log-end offset of every partition, read in one round."""

    cluster: str
    groups: tuple[GroupSample, ...]
    ends: dict[tuple[str, int], int]
    read_at: datetime


def cluster_sample(*, cluster: str) -> ClusterSample:
    """Groups (state, members, commits) and every partition's end offset, all requests in flight."""
    listing = {g.group_id: g for g in groups_listed(cluster=cluster)}
    raws = groups_raw(cluster=cluster, group_ids=sorted(listing), listing=listing)
    keys: set[tuple[str, int]] = set()
    for name, meta in metadata_topics(cluster=cluster).items():
        if not is_internal(name) and meta.error is None:
            keys.update((name, p) for p in meta.partitions)
    for raw in raws:
        keys.update(raw.committed)
    ends = offsets_known(cluster=cluster, keys=keys, spec=OffsetSpec.latest())
    groups = tuple(
        GroupSample(
            group=raw.group,
            state=group_state(raw),
            members=group_members(raw.description),
            committed=raw.committed,
        )
        for raw in raws
    )
    return ClusterSample(
        cluster=cluster,
        groups=groups,
        ends={k: v for k, v in ends.items() if v is not None},
        read_at=datetime.now(UTC),
    )
