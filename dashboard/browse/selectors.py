"""What the overview, topic and group pages show: one selector per page, shared by its JSON.

A selector reads Kafka through the client layer (and the sampler's history from the
database) and returns everything its page and its JSON answer need; views only render.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict

from dashboard.access.policy import Scope, cluster_check, group_check, topic_check
from dashboard.kafka.client.clients import cluster_config
from dashboard.kafka.client.shared import shared_read
from dashboard.kafka.cluster import ClusterOverview, cluster_overview
from dashboard.kafka.config import ClusterConfig
from dashboard.kafka.groups.lag import (
    Group,
    GroupSummary,
    PartitionLag,
    group_detail,
    group_list,
    group_visible,
    topic_groups,
)
from dashboard.kafka.groups.lagtime import message_times
from dashboard.kafka.groups.read import groups_listing
from dashboard.kafka.groups.share import ShareGroup
from dashboard.kafka.topics import (
    Topic,
    TopicSummary,
    topic_detail,
    topic_index,
    topic_list,
    topic_messages,
)
from dashboard.lag.history import (
    GroupListRow,
    group_list_rows,
    group_partitions_health,
    sampler_state,
    worst,
)
from dashboard.web.jsonutil import to_json
from dashboard.web.listing import ListQuery, Page, apply, list_query, paginate

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


def overview_view(*, cluster: str, scope: Scope) -> OverviewView:
    """Cluster id, controller, brokers and counts (of what the user sees), with its config."""
    cluster_check(scope, cluster)
    config = cluster_config(cluster=cluster)
    overview = shared_read(("overview", cluster), lambda: cluster_overview(cluster=cluster))
    if scope.limited:
        index = shared_read(
            ("topic-index", cluster, True),
            lambda: topic_index(cluster=cluster, include_internal=True),
        )
        listing = shared_read(("group-listing", cluster), lambda: groups_listing(cluster=cluster))
        seen = [t for t in index.topics if scope.sees_topic(cluster, t.name)]
        overview = dataclasses.replace(
            overview,
            topic_count=sum(1 for t in seen if not t.internal),
            internal_topic_count=sum(1 for t in seen if t.internal),
            partition_count=sum(t.partitions for t in seen),
            group_count=sum(1 for g in listing.groups if scope.sees_group(cluster, g.group)),
        )
    return OverviewView(overview=overview, config=config)


@dataclass(frozen=True)
class TopicsView:
    """One page of the topic list as asked: filtered, sorted, paged."""

    read_at: datetime
    rows: list[TopicSummary]
    page: Page
    all_count: int  # topics before the filter (of those the user may view)
    query: ListQuery
    internal: bool
    hidden: int = 0  # topics the user may not view, left out of every count


# Sorts the metadata alone can answer: only the shown page's watermarks are read.
TOPIC_METADATA_SORTS = frozenset({"name", "partitions", "replication_factor", "under_replicated"})


def topics_view(*, cluster: str, params: QueryDict, scope: Scope, limit: int = 100) -> TopicsView:
    """A page of topics, filtered and sorted by ?q=, ?sort=, ?dir=, ?page=, ?limit=."""
    cluster_check(scope, cluster)
    query = list_query(params, fields=TOPIC_FIELDS, default="name", limit=limit)
    internal = params.get("internal", "") in YES
    if query.sort in TOPIC_METADATA_SORTS:
        index = shared_read(
            ("topic-index", cluster, internal),
            lambda: topic_index(cluster=cluster, include_internal=internal),
        )
        visible = _visible_topics(scope, cluster, index.topics)
        page = paginate(apply(visible, query, name_field="name"), query)
        wanted = {t.name: t.partitions for t in page.rows}
        counts = shared_read(
            ("topic-messages", cluster, tuple(sorted(wanted.items()))),
            lambda: topic_messages(cluster=cluster, partitions=wanted),
        )
        rows = [dataclasses.replace(t, messages=counts[t.name]) for t in page.rows]
        data = index
    else:
        # Sorting by messages needs every topic's watermarks: one batched read of all.
        data = shared_read(
            ("topics", cluster, internal),
            lambda: topic_list(cluster=cluster, include_internal=internal),
        )
        visible = _visible_topics(scope, cluster, data.topics)
        page = paginate(apply(visible, query, name_field="name"), query)
        rows = page.rows
    return TopicsView(
        read_at=data.read_at,
        rows=rows,
        page=page,
        all_count=len(visible),
        query=query,
        internal=internal,
        hidden=len(data.topics) - len(visible),
    )


def _visible_topics(
    scope: Scope, cluster: str, topics: tuple[TopicSummary, ...]
) -> tuple[TopicSummary, ...]:
    if not scope.limited:
        return topics
    return tuple(t for t in topics if scope.sees_topic(cluster, t.name))


@dataclass(frozen=True)
class TopicView:
    """A topic's partitions and configs, and the groups consuming it."""

    topic: Topic
    groups: tuple[GroupSummary, ...]


def topic_view(*, cluster: str, topic: str, scope: Scope) -> TopicView:
    """A topic in full and the groups (the user may view) that consume it."""
    topic_check(scope, cluster, topic)
    view = shared_read(
        ("topic", cluster, topic),
        lambda: TopicView(
            topic=topic_detail(cluster=cluster, topic=topic),
            groups=topic_groups(cluster=cluster, topic=topic),
        ),
    )
    if scope.limited:
        shown = tuple(g for g in view.groups if scope.sees_group(cluster, g.group))
        view = TopicView(topic=view.topic, groups=shown)
    return view


@dataclass(frozen=True)
class GroupsView:
    """One page of the group list as asked, with the sampler's verdicts."""

    read_at: datetime
    notice: str | None
    rows: list[GroupListRow]
    page: Page
    all_count: int  # groups before the filter (of those the user may view)
    query: ListQuery
    sampler: dict[str, object]
    hidden: int = 0  # groups the user may not view, left out of every count


# Sorts the listing alone can answer: only the shown page's groups are described.
GROUP_LISTING_SORTS = frozenset({"group", "state", "type"})


def groups_view(*, cluster: str, params: QueryDict, scope: Scope, limit: int = 100) -> GroupsView:
    """A page of groups with lag and status, by ?q=, ?sort=, ?dir=, ?page=, ?limit=."""
    cluster_check(scope, cluster)
    query = list_query(params, fields=GROUP_FIELDS, default="group", limit=limit)
    sampler = shared_read(("sampler", cluster), lambda: sampler_state(cluster=cluster))
    visible_topic = scope.topic_filter(cluster)
    if query.sort in GROUP_LISTING_SORTS:
        listing = shared_read(("group-listing", cluster), lambda: groups_listing(cluster=cluster))
        seen = [g for g in listing.groups if scope.sees_group(cluster, g.group)]
        page = paginate(apply(seen, query, name_field="group"), query)
        names = tuple(g.group for g in page.rows)
        data = shared_read(
            ("groups-page", cluster, names, scope.key),
            lambda: group_list(
                cluster=cluster, only=names, listing=listing, visible_topic=visible_topic
            ),
        )
        # The sampler's verdicts are database reads: shared like the Kafka read.
        verdicts = shared_read(
            ("group-rows", cluster, names, data.read_at),
            lambda: group_list_rows(cluster=cluster, summaries=data.groups),
        )
        by_name = {r.group: r for r in verdicts}
        rows = [by_name[n] for n in names if n in by_name]
        all_count, hidden = len(seen), len(listing.groups) - len(seen)
    else:
        # Sorting by lag, members, topics or status needs every group described: one
        # batched read of all of them (every request in flight at once).
        data = shared_read(
            ("groups", cluster, scope.key),
            lambda: group_list(cluster=cluster, visible_topic=visible_topic),
        )
        everything = shared_read(
            ("group-rows", cluster, data.read_at),
            lambda: group_list_rows(cluster=cluster, summaries=data.groups),
        )
        seen_rows = [r for r in everything if scope.sees_group(cluster, r.group)]
        page = paginate(apply(seen_rows, query, name_field="group"), query)
        rows = page.rows
        all_count, hidden = len(seen_rows), len(everything) - len(seen_rows)
    return GroupsView(
        read_at=data.read_at,
        notice=data.notice,
        rows=rows,
        page=page,
        all_count=all_count,
        query=query,
        sampler=sampler,
        hidden=hidden,
    )


# Partitions a group or topic page shows at once; its JSON has them all.
PARTITIONS_PAGE = 200


@dataclass(frozen=True)
class GroupView:
    """A group in full: partitions with exact lag seconds and the sampler's verdicts."""

    group: Group
    rows: list[dict[str, Any]]
    status: str
    oldest: float | None
    sampler: dict[str, object]
    # The page shown, when the partitions are paged (the HTML page); None: every partition.
    page: Page | None = None


@dataclass(frozen=True)
class ShareGroupView:
    """A share group: members, share-partitions (start offset, lag) and sampled verdicts."""

    group: ShareGroup
    rows: list[dict[str, Any]]
    status: str
    sampler: dict[str, object]


def group_view(
    *, cluster: str, group: str, scope: Scope, params: QueryDict | None = None
) -> GroupView | ShareGroupView:
    """The group, each shown partition's exact lag seconds, last commit and sampled verdict.

    With params (the HTML page), the partitions are paged (?page=, ?limit=) and only the
    shown ones are fetched from for their lag seconds; the totals cover them all.
    """
    group_check(scope, cluster, group)
    detail = shared_read(
        ("group", cluster, group), lambda: group_detail(cluster=cluster, group=group)
    )
    visible_topic = scope.topic_filter(cluster)
    if visible_topic is not None:
        detail = group_visible(detail, visible_topic)
    if isinstance(detail, ShareGroup):
        return _share_view(cluster=cluster, detail=detail)
    page = None
    shown: Sequence[PartitionLag] = detail.partitions
    if params is not None:
        query = list_query(params, fields=["partition"], default="partition", limit=PARTITIONS_PAGE)
        page = paginate(detail.partitions, query)
        shown = page.rows
    # The message at each shown lagging partition's committed offset: one fetch each, so
    # only for what is shown (a hidden partition is never read: it is not in detail).
    behind = {
        (p.topic, p.partition): p.committed_offset
        for p in shown
        if p.lag and p.committed_offset is not None
    }
    times = shared_read(
        ("group-times", cluster, group, hash(frozenset(behind.items()))),
        lambda: message_times(cluster=cluster, positions=behind),
    )
    health = group_partitions_health(cluster=cluster, group=detail.group)
    now = datetime.now(UTC)
    rows = []
    for p in shown:
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
    # The verdict covers every partition the viewer sees, on every page.
    seen = {(p.topic, p.partition) for p in detail.partitions}
    return GroupView(
        group=detail,
        rows=rows,
        status=worst([h.status for k, h in health.items() if k in seen and h.status]),
        oldest=max((r["lag_seconds"] for r in rows if r["lag_seconds"] is not None), default=None),
        sampler=shared_read(("sampler", cluster), lambda: sampler_state(cluster=cluster)),
        page=page,
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
        sampler=shared_read(("sampler", cluster), lambda: sampler_state(cluster=cluster)),
    )
