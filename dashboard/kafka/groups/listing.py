"""Every group of a cluster with its type, from ListGroups v5 sent to every broker (KIP-1043).

librdkafka's list_consumer_groups() keeps only groups whose protocol type is empty or
`consumer`: share, streams and Connect groups vanish without an error. Each broker
lists the groups it coordinates, so the request goes to all of them at once; a broker
that does not answer makes the listing fail (an incomplete list would hide groups).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.kafka.client.brokers import BrokerNode, answer, brokers_all, check, send, state_name


@dataclass(frozen=True)
class Listed:
    """A group as its coordinator lists it."""

    group: str
    type: str  # classic, consumer, share, streams, connect, or another classic protocol type
    protocol_type: str
    state: str
    coordinator: int


def group_type(*, group_type: str, protocol_type: str) -> str:
    """The type we show: the broker's group type, or a classic group's protocol type."""
    kind = (group_type or "classic").lower()
    if kind != "classic":
        return kind
    # Classic groups carry their protocol in ProtocolType: consumers say "consumer"
    # (or nothing, for groups that only commit), Kafka Connect workers "connect".
    protocol = protocol_type.lower()
    return "classic" if protocol in {"", "consumer"} else protocol


def groups_every(*, cluster: str) -> tuple[list[Listed], tuple[BrokerNode, ...]]:
    """Every group of every type, by asking each broker for the groups it coordinates."""
    nodes = brokers_all(cluster=cluster)
    futures = {
        node.id: send(
            cluster=cluster,
            node=node,
            name="ListGroups",
            values={"StatesFilter": [], "TypesFilter": []},
        )
        for node in nodes
    }
    listed: dict[str, Listed] = {}
    for node_id, future in futures.items():
        response = answer(future, cluster=cluster)
        check(response["ErrorCode"], None, cluster=cluster)
        for g in response["Groups"]:
            listed[g["GroupId"]] = Listed(
                group=g["GroupId"],
                type=group_type(group_type=g["GroupType"], protocol_type=g["ProtocolType"]),
                protocol_type=g["ProtocolType"],
                state=state_name(g["GroupState"]),
                coordinator=node_id,
            )
    return sorted(listed.values(), key=lambda g: g.group), nodes
