"""Deleting consumer groups and their committed offsets (DeleteGroups, OffsetDelete, and a
share group's DeleteShareGroupOffsets), sent by us to the group's coordinator.

librdkafka has DeleteGroups but no OffsetDelete; one module for both keeps the errors of
every kind of group in one place. A group with live members is refused by Kafka and, before
that, by the callers (a plan shows who is still there).
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboard.kafka.client.brokers import answer, error_text, group_coordinator, send
from dashboard.kafka.errors import GroupNotEmpty, GroupNotFound, InvalidRequest

NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
GROUP_SUBSCRIBED_TO_TOPIC = 86


def _refusal(cluster: str, group: str, code: int, message: str | None) -> Exception:
    if code == NON_EMPTY_GROUP:
        return GroupNotEmpty(
            f"Consumer group {group!r} has active members: stop its consumers first."
        )
    if code == GROUP_ID_NOT_FOUND:
        return GroupNotFound(cluster=cluster, group=group)
    if code == GROUP_SUBSCRIBED_TO_TOPIC:
        return GroupNotEmpty(
            f"Consumer group {group!r} is subscribed to the topic: its members would commit "
            "again. Stop its consumers first."
        )
    return InvalidRequest(f"Kafka refused the request: {error_text(code, message)}")


def group_delete(*, cluster: str, group: str) -> None:
    """Delete an empty group of any type (classic, consumer, share, streams)."""
    node = group_coordinator(cluster=cluster, group=group)
    result = answer(
        send(cluster=cluster, node=node, name="DeleteGroups", values={"GroupsNames": [group]}),
        cluster=cluster,
    )
    for row in result["Results"]:
        if row["ErrorCode"]:
            raise _refusal(cluster, group, row["ErrorCode"], None)


def offsets_delete(
    *, cluster: str, group: str, topic: str, partitions: Sequence[int]
) -> dict[int, str | None]:
    """Delete the group's committed offsets of these partitions (OffsetDelete); per
    partition None, or the error Kafka gave."""
    node = group_coordinator(cluster=cluster, group=group)
    result = answer(
        send(
            cluster=cluster,
            node=node,
            name="OffsetDelete",
            values={
                "GroupId": group,
                "Topics": [
                    {"Name": topic, "Partitions": [{"PartitionIndex": p} for p in partitions]}
                ],
            },
        ),
        cluster=cluster,
    )
    if result["ErrorCode"]:
        raise _refusal(cluster, group, result["ErrorCode"], None)
    out: dict[int, str | None] = {}
    for row in result["Topics"]:
        for p in row["Partitions"]:
            code = p["ErrorCode"]
            if code == GROUP_SUBSCRIBED_TO_TOPIC:
                raise _refusal(cluster, group, code, None)
            out[p["PartitionIndex"]] = error_text(code, None) if code else None
    return out


def share_offsets_delete(*, cluster: str, group: str, topic: str) -> None:
    """Delete a share group's start offsets of a topic (DeleteShareGroupOffsets, KIP-932)."""
    node = group_coordinator(cluster=cluster, group=group)
    result = answer(
        send(
            cluster=cluster,
            node=node,
            name="DeleteShareGroupOffsets",
            values={"GroupId": group, "Topics": [{"TopicName": topic}]},
        ),
        cluster=cluster,
    )
    if result["ErrorCode"]:
        raise _refusal(cluster, group, result["ErrorCode"], result.get("ErrorMessage"))
    for row in result["Responses"]:
        if row["ErrorCode"]:
            raise _refusal(cluster, group, row["ErrorCode"], row.get("ErrorMessage"))
