"""What the overview, topic and group pages show: one selector per page, shared by its JSON.

A selector reads Kafka through the client layer (and the sampler's history from the
database) and returns everything its page and its JSON answer need; views only render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict

from dashboard.kafka.clusters import ClusterOverview, cluster_config, cluster_overview
from dashboard.kafka.config import ClusterConfig
from dashboard.kafka.groups import (
    Group,
    GroupList,
    GroupSummary,
    group_detail,
    group_list,
    topic_groups,
)
from dashboard.kafka.lagtime import message_times
from dashboard.kafka.sharegroups import ShareGroup
from dashboard.kafka.topics import Topic, TopicList, TopicSummary, topic_detail, topic_list
from dashboard.lag.history import (
    GroupListRow,
    group_list_rows,
    group_partitions_health,
    sampler_state,
    worst,
)
from dashboard.web.jsonutil import to_json
from dashboard.web.listing import ListQuery, apply, list_query

TOPIC_FIELDS = ("name", "partitions", "replication_factor", "messages", "under_replicated")
GROUP_FIELDS = (
    "group",
    "state",
    "type",
    "members",
    "topics",
    "total_lag",
    "max_lag",
    "status_rank",
    "lag_seconds_estimate",
)
YES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class OverviewView:
    """The cluster overview and its configuration (secrets masked by public_settings)."""

    overview: ClusterOverview
    config: ClusterConfig


def overview_view(*, cluster: str) -> OverviewView:
    """Cluster id, controller, brokers and counts, with the cluster's configuration."""
    return OverviewView(
        overview=cluster_overview(cluster=cluster), config=cluster_config(cluster=cluster)
    )


@dataclass(frozen=True)
class TopicsView:
    """The topic list as asked: filtered and sorted rows."""

    data: TopicList
    rows: list[TopicSummary]
    query: ListQuery
    internal: bool


def topics_view(*, cluster: str, params: QueryDict) -> TopicsView:
    """Every topic, filtered and sorted by ?q=, ?sort=, ?dir=; internal ones with ?internal=1."""
    query = list_query(params, fields=TOPIC_FIELDS, default="name")
    internal = params.get("internal", "") in YES
    data = topic_list(cluster=cluster, include_internal=internal)
    return TopicsView(
        data=data, rows=apply(data.topics, query, name_field="name"), query=query, internal=internal
    )


@dataclass(frozen=True)
class TopicView:
    """A topic's partitions and configs, and the groups consuming it."""

    topic: Topic
    groups: tuple[GroupSummary, ...]


def topic_view(*, cluster: str, topic: str) -> TopicView:
    """A topic in full and the groups that consume it (lag counted on this topic)."""
    return TopicView(
        topic=topic_detail(cluster=cluster, topic=topic),
        groups=topic_groups(cluster=cluster, topic=topic),
    )


@dataclass(frozen=True)
class GroupsView:
    """The group list as asked, with the sampler's verdicts."""

    data: GroupList
    rows: list[GroupListRow]
    query: ListQuery
    sampler: dict[str, object]


def groups_view(*, cluster: str, params: QueryDict) -> GroupsView:
    """Every group with lag and status, filtered and sorted by ?q=, ?sort=, ?dir=."""
    query = list_query(params, fields=GROUP_FIELDS, default="group")
    data = group_list(cluster=cluster)
    rows = apply(group_list_rows(cluster=cluster, summaries=data.groups), query, name_field="group")
    return GroupsView(data=data, rows=rows, query=query, sampler=sampler_state(cluster=cluster))


@dataclass(frozen=True)
class GroupView:
    """A group in full: partitions with exact lag seconds and the sampler's verdicts."""

    group: Group
    rows: list[dict[str, Any]]
    status: str
    oldest: float | None
    sampler: dict[str, object]


@dataclass(frozen=True)
class ShareGroupView:
    """A share group: members, share-partitions (start offset, lag) and sampled verdicts."""

    group: ShareGroup
    rows: list[dict[str, Any]]
    status: str
    sampler: dict[str, object]


def group_view(*, cluster: str, group: str) -> GroupView | ShareGroupView:
    """The group, each partition's exact lag seconds, last commit and sampled verdict."""
    detail = group_detail(cluster=cluster, group=group)
    if isinstance(detail, ShareGroup):
        return _share_view(cluster=cluster, detail=detail)
    behind = {
        (p.topic, p.partition): p.committed_offset
        for p in detail.partitions
        if p.lag and p.committed_offset is not None
    }
    times = message_times(cluster=cluster, positions=behind)
    health = group_partitions_health(cluster=cluster, group=detail.group)
    now = datetime.now(UTC)
    rows = []
    for p in detail.partitions:
        key = (p.topic, p.partition)
        found, sampled = times.get(key), health.get(key)
        rows.append(
            {
                **to_json(p),
                "p": p,
                # Exact: the age of the first message the group has not consumed.
                "lag_seconds": max((now.timestamp() * 1000 - found.timestamp_ms) / 1000, 0.0)
                if found
                else (0.0 if p.lag == 0 else None),
                "first_unconsumed_timestamp": datetime.fromtimestamp(found.timestamp_ms / 1000, UTC)
                if found
                else None,
                "timestamp_type": found.timestamp_type if found else None,
                "status": sampled.status if sampled else "",
                "lag_seconds_estimate": sampled.lag_seconds_estimate if sampled else None,
                "last_commit_at": sampled.last_commit_at if sampled else None,
                "sampled_at": sampled.at if sampled else None,
            }
        )
    return GroupView(
        group=detail,
        rows=rows,
        status=worst([r["status"] for r in rows if r["status"]]),
        oldest=max((r["lag_seconds"] for r in rows if r["lag_seconds"] is not None), default=None),
        sampler=sampler_state(cluster=cluster),
    )


def _share_view(*, cluster: str, detail: ShareGroup) -> ShareGroupView:
    health = group_partitions_health(cluster=cluster, group=detail.group)
    members = {m.member_id: m for m in detail.members}
    rows = []
    for p in detail.partitions:
        sampled = health.get((p.topic, p.partition))
        rows.append(
            {
                **to_json(p),
                "p": p,
                "owner_client_ids": [members[o].client_id for o in p.owners if o in members],
                "status": sampled.status if sampled else "",
                "sampled_at": sampled.at if sampled else None,
            }
        )
    return ShareGroupView(
        group=detail,
        rows=rows,
        status=worst([r["status"] for r in rows if r["status"]]),
        sampler=sampler_state(cluster=cluster),
    )
