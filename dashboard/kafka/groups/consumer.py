"""KIP-848 consumer groups as the broker's ConsumerGroupDescribe (69) tells them: epochs,
subscriptions and the assignor, which librdkafka's describe does not carry.

In the `consumer` protocol the broker computes the assignment: the group epoch moves
when membership or subscriptions change, the assignment epoch when a new target
assignment is computed, and each member's epoch when it has caught up with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.client.brokers import BrokerNode, answer, error_text, send


@dataclass(frozen=True)
class ConsumerProtocolMember:
    """One member's epoch and subscription."""

    member_id: str
    member_epoch: int
    rack: str | None
    subscribed_topics: tuple[str, ...]
    subscribed_regex: str | None


@dataclass(frozen=True)
class ConsumerProtocolDescription:
    """A KIP-848 group's epochs, assignor and members' epochs."""

    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: tuple[ConsumerProtocolMember, ...]
    error: str | None


def consumer_protocol_send(
    *, cluster: str, node: BrokerNode, group_ids: Sequence[str]
) -> Future[Any]:
    """Send ConsumerGroupDescribe for KIP-848 groups of one coordinator."""
    return send(
        cluster=cluster,
        node=node,
        name="ConsumerGroupDescribe",
        values={"GroupIds": list(group_ids), "IncludeAuthorizedOperations": False},
    )


def consumer_protocol_parse(
    *, cluster: str, described: Future[Any]
) -> dict[str, ConsumerProtocolDescription]:
    """ConsumerGroupDescribe's groups by id; a group's error stays with that group."""
    out = {}
    for g in answer(described, cluster=cluster)["Groups"]:
        members = tuple(
            sorted(
                (
                    ConsumerProtocolMember(
                        member_id=m["MemberId"],
                        member_epoch=m["MemberEpoch"],
                        rack=m["RackId"],
                        subscribed_topics=tuple(sorted(m["SubscribedTopicNames"])),
                        subscribed_regex=m["SubscribedTopicRegex"],
                    )
                    for m in g["Members"]
                ),
                key=lambda m: m.member_id,
            )
        )
        out[g["GroupId"]] = ConsumerProtocolDescription(
            group_epoch=g["GroupEpoch"],
            assignment_epoch=g["AssignmentEpoch"],
            assignor=g["AssignorName"],
            members=members,
            error=error_text(g["ErrorCode"], g["ErrorMessage"]) if g["ErrorCode"] else None,
        )
    return out
