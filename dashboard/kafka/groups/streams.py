"""Streams groups (KIP-1071): a Kafka Streams application's members, topology, tasks and lag.

The broker assigns *tasks* rather than partitions: task `<subtopology>_<p>` reads
partition p of every source topic of that subtopology. Offsets are committed like a
consumer group's, so lag is log-end offset minus committed offset, as
`kafka-streams-groups.sh --describe --offsets` prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.client.brokers import BrokerNode, answer, error_text, send, state_name


@dataclass(frozen=True)
class Subtopology:
    """One subtopology of the application: what it reads and the topics it made."""

    subtopology: str
    source_topics: tuple[str, ...]
    repartition_sink_topics: tuple[str, ...]
    repartition_source_topics: tuple[str, ...]
    changelog_topics: tuple[str, ...]


@dataclass(frozen=True)
class StreamsMember:
    """A member (one Streams client thread) and its tasks, as `<subtopology>_<partition>`."""

    member_id: str
    member_epoch: int
    process_id: str
    client_id: str
    host: str
    instance_id: str | None
    rack: str | None
    topology_epoch: int
    active_tasks: tuple[str, ...]
    standby_tasks: tuple[str, ...]
    warmup_tasks: tuple[str, ...]
    target_active_tasks: tuple[str, ...]
    # The input partitions its active tasks read, for the partition table's owner column.
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class StreamsDescription:
    """What StreamsGroupDescribe says about one streams group."""

    group: str
    state: str
    group_epoch: int
    assignment_epoch: int
    topology_epoch: int | None
    subtopologies: tuple[Subtopology, ...]
    members: tuple[StreamsMember, ...]
    error: str | None


def streams_send(*, cluster: str, node: BrokerNode, group_ids: Sequence[str]) -> Future[Any]:
    """Send StreamsGroupDescribe for groups of one coordinator."""
    return send(
        cluster=cluster,
        node=node,
        name="StreamsGroupDescribe",
        values={"GroupIds": list(group_ids), "IncludeAuthorizedOperations": False},
    )


def _tasks(tasks: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(f"{t['SubtopologyId']}_{p}" for t in tasks for p in t["Partitions"]))


def _names(topics: list[Any]) -> tuple[str, ...]:
    return tuple(sorted(t["Name"] if isinstance(t, dict) else t for t in topics))


def streams_parse(*, cluster: str, described: Future[Any]) -> dict[str, StreamsDescription]:
    """StreamsGroupDescribe's answer by group id; a group's error stays with that group."""
    out = {}
    for raw in answer(described, cluster=cluster)["Groups"]:
        topology = raw["Topology"]
        subtopologies = tuple(
            Subtopology(
                subtopology=s["SubtopologyId"],
                source_topics=tuple(sorted(s["SourceTopics"])),
                repartition_sink_topics=tuple(sorted(s["RepartitionSinkTopics"])),
                repartition_source_topics=_names(s["RepartitionSourceTopics"]),
                changelog_topics=_names(s["StateChangelogTopics"]),
            )
            for s in ((topology or {}).get("Subtopologies") or [])
        )
        sources = {
            s.subtopology: s.source_topics + s.repartition_source_topics for s in subtopologies
        }
        members = []
        for m in raw["Members"]:
            active = m["Assignment"]["ActiveTasks"]
            members.append(
                StreamsMember(
                    member_id=m["MemberId"],
                    member_epoch=m["MemberEpoch"],
                    process_id=m["ProcessId"],
                    client_id=m["ClientId"],
                    host=m["ClientHost"].lstrip("/"),
                    instance_id=m["InstanceId"],
                    rack=m["RackId"],
                    topology_epoch=m["TopologyEpoch"],
                    active_tasks=_tasks(active),
                    standby_tasks=_tasks(m["Assignment"]["StandbyTasks"]),
                    warmup_tasks=_tasks(m["Assignment"]["WarmupTasks"]),
                    target_active_tasks=_tasks(m["TargetAssignment"]["ActiveTasks"]),
                    assignment=tuple(
                        sorted(
                            (topic, p)
                            for t in active
                            for p in t["Partitions"]
                            for topic in sources.get(t["SubtopologyId"], ())
                        )
                    ),
                )
            )
        out[raw["GroupId"]] = StreamsDescription(
            group=raw["GroupId"],
            state=state_name(raw["GroupState"]) if not raw["ErrorCode"] else "unknown",
            group_epoch=raw["GroupEpoch"],
            assignment_epoch=raw["AssignmentEpoch"],
            topology_epoch=topology["Epoch"] if topology else None,
            subtopologies=subtopologies,
            members=tuple(sorted(members, key=lambda m: (m.client_id, m.member_id))),
            error=error_text(raw["ErrorCode"], raw["ErrorMessage"]) if raw["ErrorCode"] else None,
        )
    return out
