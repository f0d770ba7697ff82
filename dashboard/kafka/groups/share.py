"""Share groups (KIP-932, "queues for Kafka"): members, share-partitions, start offsets, lag.

A share group has no committed offsets. Each partition it reads has a *start offset*:
records before it are done with, records from it on are available, acquired by a
member, or acknowledged. Several members may be assigned the same partition; each
record goes to one of them. The broker counts the lag itself (DescribeShareGroupOffsets
v1, KIP-1226), so the numbers here are the ones `kafka-share-groups.sh` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dashboard.kafka.client.brokers import (
    BrokerNode,
    answer,
    error_text,
    group_coordinator,
    send,
    state_name,
)
from dashboard.kafka.protocol.wire import Unsupported


@dataclass(frozen=True)
class ShareMember:
    """A member of a share group and the partitions it is assigned (shared with others)."""

    member_id: str
    client_id: str
    host: str
    rack: str | None
    member_epoch: int
    subscribed_topics: tuple[str, ...]
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SharePartition:
    """A share-partition: where the group starts, its lag, and the members assigned to it."""

    topic: str
    partition: int
    start_offset: int | None  # None: the share-partition has no state yet
    leader_epoch: int | None
    lag: int | None
    owners: tuple[str, ...]  # member ids
    error: str | None


@dataclass(frozen=True)
class ShareDescription:
    """What ShareGroupDescribe and DescribeShareGroupOffsets say about one share group."""

    group: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: tuple[ShareMember, ...]
    partitions: tuple[SharePartition, ...]
    error: str | None

    @property
    def total_lag(self) -> int:
        """Sum of the known lags."""
        return sum(p.lag for p in self.partitions if p.lag is not None)

    @property
    def max_lag(self) -> int:
        """The largest known lag."""
        return max((p.lag for p in self.partitions if p.lag is not None), default=0)

    @property
    def topics(self) -> tuple[str, ...]:
        """Topics the group reads: subscribed, assigned or with share-partition state."""
        names = {p.topic for p in self.partitions}
        for m in self.members:
            names.update(m.subscribed_topics)
            names.update(t for t, _ in m.assignment)
        return tuple(sorted(names))


@dataclass(frozen=True)
class ShareGroup:
    """A share group in full, for its page and JSON."""

    cluster: str
    group: str
    type: str
    state: str
    coordinator: int | None
    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: tuple[ShareMember, ...]
    partitions: tuple[SharePartition, ...]
    topics: tuple[str, ...]
    total_lag: int
    max_lag: int
    error: str | None
    read_at: datetime


def share_send(
    *, cluster: str, node: BrokerNode, group_ids: Sequence[str]
) -> tuple[Future[Any], Future[Any]]:
    """Send ShareGroupDescribe and DescribeShareGroupOffsets for groups of one coordinator."""
    described = send(
        cluster=cluster,
        node=node,
        name="ShareGroupDescribe",
        values={"GroupIds": list(group_ids), "IncludeAuthorizedOperations": False},
    )
    offsets = send(
        cluster=cluster,
        node=node,
        name="DescribeShareGroupOffsets",
        # Topics null: every share-partition the group has state for.
        values={"Groups": [{"GroupId": g, "Topics": None} for g in group_ids]},
    )
    return described, offsets


def _members(raw: dict[str, Any]) -> tuple[ShareMember, ...]:
    members = []
    for m in raw["Members"]:
        assignment = tuple(
            sorted(
                (tp["TopicName"], p)
                for tp in m["Assignment"]["TopicPartitions"]
                for p in tp["Partitions"]
            )
        )
        members.append(
            ShareMember(
                member_id=m["MemberId"],
                client_id=m["ClientId"],
                host=m["ClientHost"].lstrip("/"),
                rack=m["RackId"],
                member_epoch=m["MemberEpoch"],
                subscribed_topics=tuple(sorted(m["SubscribedTopicNames"])),
                assignment=assignment,
            )
        )
    return tuple(sorted(members, key=lambda m: (m.client_id, m.member_id)))


def share_parse(
    *, cluster: str, described: Future[Any], offsets: Future[Any]
) -> dict[str, ShareDescription]:
    """Both answers for one coordinator's share groups, by group id; errors stay per group."""
    described_answer = answer(described, cluster=cluster)
    offsets_answer = answer(offsets, cluster=cluster)
    starts: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    offset_errors: dict[str, str] = {}
    for g in offsets_answer["Groups"]:
        if g["ErrorCode"]:
            offset_errors[g["GroupId"]] = error_text(g["ErrorCode"], g["ErrorMessage"])
        starts[g["GroupId"]] = {
            (t["TopicName"], p["PartitionIndex"]): p for t in g["Topics"] for p in t["Partitions"]
        }
    out = {}
    for raw in described_answer["Groups"]:
        gid = raw["GroupId"]
        members = _members(raw) if not raw["ErrorCode"] else ()
        owners: dict[tuple[str, int], list[str]] = {}
        for m in members:
            for key in m.assignment:
                owners.setdefault(key, []).append(m.member_id)
        state_rows = starts.get(gid, {})
        partitions = []
        for key in sorted(set(state_rows) | set(owners)):
            row = state_rows.get(key)
            start = row["StartOffset"] if row is not None else -1
            lag = row["Lag"] if row is not None else -1
            partitions.append(
                SharePartition(
                    topic=key[0],
                    partition=key[1],
                    start_offset=start if start >= 0 else None,
                    leader_epoch=row["LeaderEpoch"] if row and row["LeaderEpoch"] >= 0 else None,
                    lag=lag if lag >= 0 else None,
                    owners=tuple(sorted(owners.get(key, ()))),
                    error=error_text(row["ErrorCode"], row["ErrorMessage"])
                    if row and row["ErrorCode"]
                    else None,
                )
            )
        error = (
            error_text(raw["ErrorCode"], raw["ErrorMessage"])
            if raw["ErrorCode"]
            else offset_errors.get(gid)
        )
        out[gid] = ShareDescription(
            group=gid,
            state=state_name(raw["GroupState"]) if not raw["ErrorCode"] else "unknown",
            group_epoch=raw["GroupEpoch"],
            assignment_epoch=raw["AssignmentEpoch"],
            assignor=raw["AssignorName"],
            members=members,
            partitions=tuple(partitions),
            error=error,
        )
    return out


def share_group(
    *, cluster: str, description: ShareDescription, coordinator: int | None
) -> ShareGroup:
    """The page's view of one described share group."""
    return ShareGroup(
        cluster=cluster,
        group=description.group,
        type="share",
        state=description.state,
        coordinator=coordinator,
        group_epoch=description.group_epoch,
        assignment_epoch=description.assignment_epoch,
        assignor=description.assignor,
        members=description.members,
        partitions=description.partitions,
        topics=description.topics,
        total_lag=description.total_lag,
        max_lag=description.max_lag,
        error=description.error,
        read_at=datetime.now(UTC),
    )


def share_offsets_alter(
    *, cluster: str, group: str, offsets: Sequence[tuple[str, int, int]]
) -> tuple[tuple[str, int, int, str | None], ...]:
    """Move a share group's start offsets (AlterShareGroupOffsets); an error per partition.

    Takes (topic, partition, new start) rows, not a reset plan: a kind of group knows its
    requests, the writes side knows plans.
    """
    node = group_coordinator(cluster=cluster, group=group)
    by_topic: dict[str, list[dict[str, int]]] = {}
    for topic, partition, new in offsets:
        by_topic.setdefault(topic, []).append({"PartitionIndex": partition, "StartOffset": new})
    try:
        altered = answer(
            send(
                cluster=cluster,
                node=node,
                name="AlterShareGroupOffsets",
                values={
                    "GroupId": group,
                    "Topics": [{"TopicName": t, "Partitions": ps} for t, ps in by_topic.items()],
                },
            ),
            cluster=cluster,
        )
    except Unsupported as exc:
        return tuple((t, p, new, str(exc)) for t, p, new in offsets)
    group_error = (
        error_text(altered["ErrorCode"], altered["ErrorMessage"]) if altered["ErrorCode"] else None
    )
    errors = {
        (t["TopicName"], p["PartitionIndex"]): error_text(p["ErrorCode"], p["ErrorMessage"])
        for t in altered["Responses"]
        for p in t["Partitions"]
        if p["ErrorCode"]
    }
    return tuple((t, p, new, group_error or errors.get((t, p))) for t, p, new in offsets)
