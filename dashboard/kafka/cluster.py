"""The cluster overview: identity, brokers and counts (a reader above the client and groups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard.kafka.client.clients import (
    admin_client,
    cluster_config,
    groups_listed,
    request_timeout,
    wait,
)
from dashboard.kafka.groups.listing import groups_every
from dashboard.kafka.protocol.wire import Unsupported
from dashboard.kafka.topics import metadata_read


@dataclass(frozen=True)
class Broker:
    """A broker of the cluster as its metadata describes it."""

    id: int
    host: str
    port: int
    rack: str | None
    is_controller: bool


@dataclass(frozen=True)
class ClusterOverview:
    """What /clusters/<cluster>/ shows: identity, brokers and counts."""

    cluster: str
    bootstrap_servers: str
    cluster_id: str | None
    controller_id: int | None
    brokers: tuple[Broker, ...]
    topic_count: int
    internal_topic_count: int
    partition_count: int
    group_count: int
    read_at: datetime


def cluster_overview(*, cluster: str) -> ClusterOverview:
    """Cluster id, controller, brokers and counts of topics, partitions and groups."""
    config = cluster_config(cluster=cluster)
    admin = admin_client(cluster=cluster)
    # DescribeCluster in flight while Metadata blocks: the two take one round between them.
    described = admin.describe_cluster(request_timeout=request_timeout())
    metadata = metadata_read(cluster=cluster)
    description = wait(described, cluster=cluster)
    group_count = _groups_counted(cluster=cluster)
    controller_id = description.controller.id if description.controller else None
    brokers = tuple(
        sorted(
            (
                Broker(
                    id=node.id,
                    host=node.host,
                    port=node.port,
                    rack=node.rack or None,
                    is_controller=node.id == controller_id,
                )
                for node in description.nodes
            ),
            key=lambda b: b.id,
        )
    )
    internal = sum(1 for name in metadata.topics if name.startswith("__"))
    return ClusterOverview(
        cluster=cluster,
        bootstrap_servers=config.bootstrap_servers,
        cluster_id=description.cluster_id,
        controller_id=controller_id,
        brokers=brokers,
        topic_count=len(metadata.topics) - internal,
        internal_topic_count=internal,
        partition_count=sum(len(t.partitions) for t in metadata.topics.values()),
        group_count=group_count,
        read_at=datetime.now(UTC),
    )


def _groups_counted(*, cluster: str) -> int:
    try:
        return len(groups_every(cluster=cluster)[0])
    except Unsupported:
        return len(groups_listed(cluster=cluster))
