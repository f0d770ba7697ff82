"""Classic groups described by DescribeGroups (their members' protocol metadata decoded
for consumer groups, any other protocol type shown as it is)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.client.brokers import BrokerNode, error_text, send, state_name


@dataclass(frozen=True)
class ClassicMember:
    """A member of a classic group of another protocol (Connect workers, ...)."""

    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None


@dataclass(frozen=True)
class ClassicDescription:
    """DescribeGroups' answer for one group: state, protocol, members, or its error."""

    group: str
    state: str
    protocol_type: str
    protocol: str
    members: tuple[ClassicMember, ...]
    error: str | None


def classic_send(*, cluster: str, node: BrokerNode, group_ids: Sequence[str]) -> Future[Any]:
    """Send DescribeGroups for groups of one coordinator (any classic protocol type)."""
    return send(
        cluster=cluster,
        node=node,
        name="DescribeGroups",
        values={"Groups": list(group_ids), "IncludeAuthorizedOperations": False},
    )


def classic_parse(response: dict[str, Any]) -> dict[str, ClassicDescription]:
    """DescribeGroups' groups by id; a group's error stays with that group."""
    out = {}
    for g in response["Groups"]:
        members = tuple(
            sorted(
                (
                    ClassicMember(
                        member_id=m["MemberId"],
                        client_id=m["ClientId"],
                        host=m["ClientHost"].lstrip("/"),
                        group_instance_id=m["GroupInstanceId"],
                    )
                    for m in g["Members"]
                ),
                key=lambda m: (m.client_id, m.member_id),
            )
        )
        out[g["GroupId"]] = ClassicDescription(
            group=g["GroupId"],
            state=state_name(g["GroupState"]),
            protocol_type=g["ProtocolType"],
            protocol=g["ProtocolData"],
            members=members,
            error=error_text(g["ErrorCode"], g.get("ErrorMessage")) if g["ErrorCode"] else None,
        )
    return out
