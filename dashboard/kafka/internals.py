"""The cluster's inside: finalized features and metadata.version, the KRaft quorum, fenced
brokers, log directories — through our own ApiVersions, DescribeQuorum, DescribeCluster and
DescribeLogDirs, as `kafka-features`, `kafka-metadata-quorum` and `kafka-log-dirs` read them,
and each partition's eligible leader replicas (DescribeTopicPartitions, as `kafka-topics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboard.kafka.client.brokers import BrokerNode, answer, brokers_all, check, send
from dashboard.kafka.client.failures import UNKNOWN_TOPIC_OR_PARTITION

METADATA_TOPIC = "__cluster_metadata"
# metadata.version's levels by their release names, as kafka-features prints them (from
# Kafka's MetadataVersion enum, kafka-server-common 4.3.1). A newer level shows its number.
METADATA_VERSIONS = {
    7: "3.3-IV3",
    8: "3.4-IV0",
    9: "3.5-IV0",
    10: "3.5-IV1",
    11: "3.5-IV2",
    12: "3.6-IV0",
    13: "3.6-IV1",
    14: "3.6-IV2",
    15: "3.7-IV0",
    16: "3.7-IV1",
    17: "3.7-IV2",
    18: "3.7-IV3",
    19: "3.7-IV4",
    20: "3.8-IV0",
    21: "3.9-IV0",
    22: "4.0-IV0",
    23: "4.0-IV1",
    24: "4.0-IV2",
    25: "4.0-IV3",
    26: "4.1-IV0",
    27: "4.1-IV1",
    28: "4.2-IV0",
    29: "4.2-IV1",
    30: "4.3-IV0",
    31: "4.4-IV0",
}


def metadata_version_name(level: int) -> str:
    """A metadata.version level as Kafka names it (4.3-IV0), or its number."""
    return METADATA_VERSIONS.get(level, str(level))


@dataclass
class Features:
    """Finalized feature levels (the cluster's) and each node's supported range."""

    finalized: dict[str, int]  # name -> finalized level (its max; min is always the same)
    epoch: int
    supported: dict[int, dict[str, tuple[int, int]]]  # node -> name -> (min, max)


def features(*, cluster: str, nodes: tuple[BrokerNode, ...] | None = None) -> Features:
    """ApiVersions of every broker: supported ranges per node, the finalized levels."""
    nodes = nodes or brokers_all(cluster=cluster)
    values = {"ClientSoftwareName": "kafkaview", "ClientSoftwareVersion": "1"}
    futures = [(n, send(cluster=cluster, node=n, name="ApiVersions", values=values)) for n in nodes]
    finalized: dict[str, int] = {}
    epoch = -1
    supported: dict[int, dict[str, tuple[int, int]]] = {}
    for node, future in futures:
        got = answer(future, cluster=cluster)
        check(got["ErrorCode"], None, cluster=cluster)
        supported[node.id] = {
            f["Name"]: (f["MinVersion"], f["MaxVersion"])
            for f in got.get("SupportedFeatures") or []
        }
        if (got.get("FinalizedFeaturesEpoch") or -1) >= epoch:
            epoch = got.get("FinalizedFeaturesEpoch") or -1
            finalized = {
                f["Name"]: f["MaxVersionLevel"] for f in got.get("FinalizedFeatures") or []
            }
    return Features(finalized=finalized, epoch=epoch, supported=supported)


@dataclass(frozen=True)
class QuorumReplica:
    """A voter or an observer of the metadata log."""

    node: int
    role: str  # "leader", "voter" (follower) or "observer"
    log_end_offset: int
    lag: int  # behind the leader's log end
    last_fetch_ms: int
    last_caught_up_ms: int


@dataclass
class Quorum:
    """The KRaft quorum of the metadata log (__cluster_metadata-0)."""

    leader: int
    epoch: int
    high_watermark: int
    replicas: list[QuorumReplica] = field(default_factory=list)


def quorum(*, cluster: str, node: BrokerNode | None = None) -> Quorum:
    """DescribeQuorum (a broker forwards it to the active controller)."""
    node = node or brokers_all(cluster=cluster)[0]
    values = {"Topics": [{"TopicName": METADATA_TOPIC, "Partitions": [{"PartitionIndex": 0}]}]}
    got = answer(
        send(cluster=cluster, node=node, name="DescribeQuorum", values=values), cluster=cluster
    )
    check(got["ErrorCode"], got.get("ErrorMessage"), cluster=cluster)
    (part,) = got["Topics"][0]["Partitions"]
    check(part["ErrorCode"], part.get("ErrorMessage"), cluster=cluster)
    leader = part["LeaderId"]
    voters, observers = part["CurrentVoters"], part["Observers"]
    leader_end = max((r["LogEndOffset"] for r in voters if r["ReplicaId"] == leader), default=-1)
    found = Quorum(leader=leader, epoch=part["LeaderEpoch"], high_watermark=part["HighWatermark"])
    for kind, rows in (("voter", voters), ("observer", observers)):
        for r in rows:
            found.replicas.append(
                QuorumReplica(
                    node=r["ReplicaId"],
                    role="leader" if r["ReplicaId"] == leader and kind == "voter" else kind,
                    log_end_offset=r["LogEndOffset"],
                    lag=max(leader_end - r["LogEndOffset"], 0),
                    last_fetch_ms=r.get("LastFetchTimestamp", -1),
                    last_caught_up_ms=r.get("LastCaughtUpTimestamp", -1),
                )
            )
    found.replicas.sort(key=lambda r: (r.role != "leader", r.role != "voter", r.node))
    return found


@dataclass(frozen=True)
class ClusterNode:
    """A broker as the cluster describes it, fenced or not (KIP-1073)."""

    id: int
    host: str
    port: int
    rack: str | None
    fenced: bool


def cluster_nodes(*, cluster: str, node: BrokerNode | None = None) -> tuple[int, list[ClusterNode]]:
    """(controller id, every broker with IsFenced) from DescribeCluster v2."""
    node = node or brokers_all(cluster=cluster)[0]
    values = {
        "IncludeClusterAuthorizedOperations": False,
        "EndpointType": 1,
        "IncludeFencedBrokers": True,
    }
    got = answer(
        send(cluster=cluster, node=node, name="DescribeCluster", values=values), cluster=cluster
    )
    check(got["ErrorCode"], got.get("ErrorMessage"), cluster=cluster)
    nodes = [
        ClusterNode(b["BrokerId"], b["Host"], b["Port"], b.get("Rack"), bool(b.get("IsFenced")))
        for b in got["Brokers"]
    ]
    return got["ControllerId"], sorted(nodes, key=lambda n: n.id)


@dataclass
class LogDir:
    """One log directory of a broker, and the size of each topic's partitions in it."""

    broker: int
    path: str
    error: str | None
    total_bytes: int | None
    usable_bytes: int | None
    cordoned: bool
    topics: dict[str, int] = field(default_factory=dict)  # topic -> bytes
    partitions: dict[tuple[str, int], tuple[int, int, bool]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of every partition in the directory."""
        return sum(self.topics.values())


def log_dirs(
    *,
    cluster: str,
    nodes: tuple[BrokerNode, ...] | None = None,
    topic: tuple[str, list[int]] | None = None,
) -> list[LogDir]:
    """DescribeLogDirs of every broker (all topics, or one topic's partitions)."""
    nodes = nodes or brokers_all(cluster=cluster)
    values: dict[str, Any] = {
        "Topics": None if topic is None else [{"Topic": topic[0], "Partitions": topic[1]}]
    }
    futures = [
        (n, send(cluster=cluster, node=n, name="DescribeLogDirs", values=values)) for n in nodes
    ]
    found: list[LogDir] = []
    for node, future in futures:
        got = answer(future, cluster=cluster)
        check(got.get("ErrorCode", 0), None, cluster=cluster)
        for r in got["Results"]:
            total, usable = r.get("TotalBytes", -1), r.get("UsableBytes", -1)
            d = LogDir(
                broker=node.id,
                path=r["LogDir"],
                error=None if not r["ErrorCode"] else f"error {r['ErrorCode']}",
                total_bytes=None if total < 0 else total,
                usable_bytes=None if usable < 0 else usable,
                cordoned=bool(r.get("IsCordoned")),
            )
            for t in r["Topics"]:
                for p in t["Partitions"]:
                    d.partitions[(t["Name"], p["PartitionIndex"])] = (
                        p["PartitionSize"],
                        p["OffsetLag"],
                        bool(p["IsFutureKey"]),
                    )
                    d.topics[t["Name"]] = d.topics.get(t["Name"], 0) + p["PartitionSize"]
            found.append(d)
    found.sort(key=lambda d: (d.broker, d.path))
    return found


@dataclass(frozen=True)
class EligibleLeaders:
    """A partition's eligible leader replicas and last known ELR (KIP-966)."""

    elr: tuple[int, ...]
    last_known: tuple[int, ...]


def _partitions_described(
    cluster: str,
    node: BrokerNode,
    topic: str | None,
    *,
    topics: Sequence[str] | None = None,
    unknown_skipped: bool = False,
) -> Iterator[tuple[str, dict[str, Any]]]:
    # DescribeTopicPartitions answers 2000 partitions a time and a cursor to go on from;
    # no topic named asks for every topic.
    named = [topic] if topic is not None else list(topics or ())
    cursor: dict[str, Any] | None = None
    while True:
        values = {
            "Topics": [{"Name": t} for t in named],
            "ResponsePartitionLimit": 2000,
            "Cursor": cursor,
        }
        got = answer(
            send(cluster=cluster, node=node, name="DescribeTopicPartitions", values=values),
            cluster=cluster,
        )
        for t in got["Topics"]:
            if unknown_skipped and t["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION:
                continue
            check(t["ErrorCode"], None, cluster=cluster)
            for p in t["Partitions"]:
                yield t["Name"], p
        cursor = got.get("NextCursor")
        if not cursor or (named and cursor.get("TopicName") not in named):
            return


def partitions_of(*, cluster: str, topics: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """The partition ids of the topics named, from DescribeTopicPartitions (Kafka 3.8+):
    a page about a few topics need not read all 9,000 topics' metadata (0.6 s,
    bench/big.py). A topic Kafka does not know is left out. Unsupported before 3.8."""
    named = sorted(set(topics))
    if not named:
        return {}
    node = brokers_all(cluster=cluster)[0]
    found: dict[str, list[int]] = {}
    for name, p in _partitions_described(cluster, node, None, topics=named, unknown_skipped=True):
        found.setdefault(name, []).append(p["PartitionIndex"])
    return {name: tuple(sorted(ids)) for name, ids in found.items()}


def _elr(p: dict[str, Any]) -> EligibleLeaders:
    return EligibleLeaders(
        elr=tuple(p.get("EligibleLeaderReplicas") or ()),
        last_known=tuple(p.get("LastKnownElr") or ()),
    )


def eligible_leaders(*, cluster: str, topic: str, node: BrokerNode) -> dict[int, EligibleLeaders]:
    """Each partition's ELR from DescribeTopicPartitions (paged by its cursor)."""
    return {p["PartitionIndex"]: _elr(p) for _, p in _partitions_described(cluster, node, topic)}


@dataclass(frozen=True)
class PartitionElr:
    """A partition of the cluster with eligible leaders or a last known ELR."""

    topic: str
    partition: int
    leader: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]
    last_known: tuple[int, ...]


def eligible_leaders_all(*, cluster: str, node: BrokerNode) -> tuple[int, list[PartitionElr]]:
    """(partitions read, those whose ELR or last known ELR is not empty) of every topic."""
    read, found = 0, []
    for topic, p in _partitions_described(cluster, node, None):
        read += 1
        e = _elr(p)
        if e.elr or e.last_known:
            found.append(
                PartitionElr(
                    topic=topic,
                    partition=p["PartitionIndex"],
                    leader=p["LeaderId"],
                    isr=tuple(p.get("IsrNodes") or ()),
                    elr=e.elr,
                    last_known=e.last_known,
                )
            )
    return read, sorted(found, key=lambda f: (f.topic, f.partition))


# ListOffsets' special timestamps (KIP-405, KIP-1005): the first offset still on the
# leader's disk, and the last one copied to remote storage.
EARLIEST, EARLIEST_LOCAL, LATEST_TIERED = -2, -4, -5


@dataclass(frozen=True)
class Tiering:
    """Where a partition of a tiered topic lives: [log_start, local_start) is only in remote
    storage, [local_start, end) on the leader's disk; latest_tiered is -1 before any copy."""

    partition: int
    log_start: int
    local_start: int
    latest_tiered: int
    local_bytes: int | None  # the leader's copy, from DescribeLogDirs
    remote_only: int  # offsets kept in remote storage alone (deleted from the local disk)


def tiering(*, cluster: str, topic: str, leaders: dict[int, BrokerNode]) -> list[Tiering]:
    """Each partition's log start, earliest local and latest tiered offset (ListOffsets from
    its leader, as `kafka-get-offsets --time -2/-4/-5`) and its local size."""
    by_leader: dict[int, list[int]] = {}
    for partition, node in leaders.items():
        by_leader.setdefault(node.id, []).append(partition)
    nodes = {n.id: n for n in leaders.values()}
    futures = []
    for node_id, partitions in by_leader.items():
        for stamp in (EARLIEST, EARLIEST_LOCAL, LATEST_TIERED):
            values = {
                "ReplicaId": -1,
                "IsolationLevel": 0,
                "Topics": [
                    {
                        "Name": topic,
                        "Partitions": [
                            {"PartitionIndex": p, "CurrentLeaderEpoch": -1, "Timestamp": stamp}
                            for p in partitions
                        ],
                    }
                ],
                "TimeoutMs": 0,
            }
            future = send(cluster=cluster, node=nodes[node_id], name="ListOffsets", values=values)
            futures.append((stamp, future))
    offsets: dict[tuple[int, int], int] = {}
    for stamp, future in futures:
        for t in answer(future, cluster=cluster)["Topics"]:
            for p in t["Partitions"]:
                check(p["ErrorCode"], None, cluster=cluster)
                offsets[(stamp, p["PartitionIndex"])] = p["Offset"]
    sizes: dict[int, int] = {}
    dirs = log_dirs(cluster=cluster, nodes=tuple(nodes.values()), topic=(topic, sorted(leaders)))
    for d in dirs:
        for (name, partition), (size, _lag, is_future) in d.partitions.items():
            if name == topic and not is_future and leaders[partition].id == d.broker:
                sizes[partition] = size
    return [
        Tiering(
            partition=p,
            log_start=offsets[(EARLIEST, p)],
            local_start=offsets[(EARLIEST_LOCAL, p)],
            latest_tiered=offsets[(LATEST_TIERED, p)],
            local_bytes=sizes.get(p),
            remote_only=max(offsets[(EARLIEST_LOCAL, p)] - offsets[(EARLIEST, p)], 0),
        )
        for p in sorted(leaders)
    ]
