"""Every group of a cluster with its type, from ListGroups v5 sent to every broker (KIP-1043).

librdkafka's list_consumer_groups() keeps only groups whose protocol type is empty or
`consumer`: share, streams and Connect groups vanish without an error. Each broker
lists the groups it coordinates, so the request goes to all of them at once; a broker
that does not answer makes the listing fail (an incomplete list would hide groups).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.clusters import (
    admin_client,
    call,
    cluster_config,
    request_timeout,
    unavailable,
)
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.protocol.messages import ProtocolError
from dashboard.kafka.protocol.pool import request_send
from dashboard.kafka.protocol.wire import BrokerError, Unsupported

# Error codes (org.apache.kafka.common.protocol.Errors) that mean "not now".
TRANSIENT_CODES = {
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    13: "NETWORK_EXCEPTION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
}
ERROR_NAMES = {
    **TRANSIENT_CODES,
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    24: "INVALID_GROUP_ID",
    25: "UNKNOWN_MEMBER_ID",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    35: "UNSUPPORTED_VERSION",
    42: "INVALID_REQUEST",
    68: "NON_EMPTY_GROUP",
    69: "GROUP_ID_NOT_FOUND",
    100: "UNKNOWN_TOPIC_ID",
}

GROUP_TYPES = ("classic", "consumer", "share", "streams", "connect")


@dataclass(frozen=True)
class Listed:
    """A group as its coordinator lists it."""

    group: str
    type: str  # classic, consumer, share, streams, connect, or another classic protocol type
    protocol_type: str
    state: str
    coordinator: int


@dataclass(frozen=True)
class BrokerNode:
    """A broker's id and address, for the requests we send ourselves."""

    id: int
    host: str
    port: int


def group_type(*, group_type: str, protocol_type: str) -> str:
    """The type we show: the broker's group type, or a classic group's protocol type."""
    kind = (group_type or "classic").lower()
    if kind != "classic":
        return kind
    # Classic groups carry their protocol in ProtocolType: consumers say "consumer"
    # (or nothing, for groups that only commit), Kafka Connect workers "connect".
    protocol = protocol_type.lower()
    return "classic" if protocol in {"", "consumer"} else protocol


def state_name(state: str) -> str:
    """Kafka's state names (PreparingRebalance) in the spelling our JSON has always used."""
    special = {
        "PreparingRebalance": "preparing_rebalancing",
        "CompletingRebalance": "completing_rebalancing",
    }
    if state in special:
        return special[state]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", state).lower() or "unknown"


def error_text(code: int, message: str | None) -> str:
    """An error code as its Kafka name, with the broker's message when it sent one."""
    name = ERROR_NAMES.get(code, f"error {code}")
    return f"{name}: {message}" if message else name


def brokers_all(*, cluster: str) -> tuple[BrokerNode, ...]:
    """Every broker of the cluster, from librdkafka's metadata."""
    admin = admin_client(cluster=cluster)
    meta = call(lambda: admin.list_topics(timeout=request_timeout()), cluster=cluster)
    return tuple(
        BrokerNode(id=int(b.id), host=str(b.host), port=int(b.port))
        for b in sorted(meta.brokers.values(), key=lambda b: b.id)
    )


def send(
    *,
    cluster: str,
    node: BrokerNode,
    name: str,
    values: dict[str, Any],
    high: int | None = None,
) -> Future[Any]:
    """Send one of our requests to a broker of the cluster; the future holds the answer."""
    config = cluster_config(cluster=cluster)
    return request_send(
        cluster=cluster,
        host=node.host,
        port=node.port,
        settings=dict(config.client_config()),
        name=name,
        values=values,
        timeout=request_timeout(),
        high=high,
    )


def answer(future: Future[Any], *, cluster: str) -> dict[str, Any]:
    """Wait for one of our requests; a broker that does not answer is ClusterUnavailable."""
    try:
        result: dict[str, Any] = future.result(timeout=request_timeout() + 0.5)
        return result
    except Unsupported:
        raise
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise unavailable(cluster=cluster, detail=str(exc) or "no answer in time") from None
    except BrokerError as exc:
        if exc.code in TRANSIENT_CODES:
            raise unavailable(cluster=cluster, detail=str(exc)) from None
        raise InvalidRequest(f"Kafka refused the request: {exc}") from None
    except ProtocolError as exc:
        raise unavailable(cluster=cluster, detail=f"unexpected answer: {exc}") from None


def check(code: int, message: str | None, *, cluster: str) -> None:
    """Raise our error for a non-zero error code in an answer."""
    if code == 0:
        return
    if code in TRANSIENT_CODES:
        raise unavailable(cluster=cluster, detail=error_text(code, message))
    raise InvalidRequest(f"Kafka refused the request: {error_text(code, message)}")


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


def classic_describe_send(
    *, cluster: str, node: BrokerNode, group_ids: Sequence[str]
) -> Future[Any]:
    """Send DescribeGroups for groups of one coordinator (any classic protocol type)."""
    return send(
        cluster=cluster,
        node=node,
        name="DescribeGroups",
        values={"Groups": list(group_ids), "IncludeAuthorizedOperations": False},
    )


def classic_described(response: dict[str, Any]) -> dict[str, ClassicDescription]:
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
