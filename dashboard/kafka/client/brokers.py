"""Requests we send ourselves (through protocol/), to the brokers librdkafka's metadata names.

One broker type (BrokerNode), the send/answer pair every kind of group uses, and the
error codes of Kafka's answers turned into our errors: transient ones mean the cluster
is not answering (503), the others that Kafka refused the request.
"""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import Any

from dashboard.kafka.client.clients import (
    admin_client,
    call,
    cluster_config,
    request_timeout,
    unavailable,
    wait,
)
from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.client.failures import ERROR_NAMES, TRANSIENT_CODES
from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.protocol.messages import ProtocolError
from dashboard.kafka.protocol.pool import request_send
from dashboard.kafka.protocol.wire import BrokerError, Codec, Unsupported


@dataclass(frozen=True)
class BrokerNode:
    """A broker's id and address, for the requests we send ourselves."""

    id: int
    host: str
    port: int


@cache
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
    """Every broker of the cluster, from DescribeCluster (else librdkafka's metadata)."""
    admin = admin_client(cluster=cluster)
    # DescribeCluster names the brokers alone: a metadata call names every topic too,
    # 0.3 s of 9,000 topics before the group list could send anything (bench/big.py).
    try:
        described = wait(admin.describe_cluster(request_timeout=request_timeout()), cluster=cluster)
        found = [(n.id, n.host, n.port) for n in described.nodes]
    except InvalidRequest:  # a broker before Kafka 2.8 has no DescribeCluster
        meta = call(lambda: admin.list_topics(timeout=request_timeout()), cluster=cluster)
        found = [(b.id, b.host, b.port) for b in meta.brokers.values()]
    return tuple(BrokerNode(id=int(i), host=str(h), port=int(p)) for i, h, p in sorted(found))


def send(
    *,
    cluster: str,
    node: BrokerNode,
    name: str,
    values: dict[str, Any] | Codec,
    high: int | None = None,
) -> Future[Any]:
    """Send one of our requests to a broker of the cluster; the future holds the answer."""
    config = cluster_config(cluster=cluster)
    requests_count(cluster=cluster, call=name)
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


def answer(future: Future[Any], *, cluster: str) -> Any:
    """Wait for one of our requests (its decoded answer: a dict, or what its Codec reads);
    a broker that does not answer is ClusterUnavailable."""
    try:
        return future.result(timeout=request_timeout() + 0.5)
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


def group_coordinator(*, cluster: str, group: str) -> BrokerNode:
    """The broker that coordinates the group (FindCoordinator), where its requests go."""
    nodes = {n.id: n for n in brokers_all(cluster=cluster)}
    found = answer(
        send(
            cluster=cluster,
            node=next(iter(nodes.values())),
            name="FindCoordinator",
            values={"KeyType": 0, "CoordinatorKeys": [group]},
        ),
        cluster=cluster,
    )
    (coordinator,) = found["Coordinators"]
    check(coordinator["ErrorCode"], coordinator["ErrorMessage"], cluster=cluster)
    return nodes.get(coordinator["NodeId"]) or BrokerNode(
        coordinator["NodeId"], coordinator["Host"], coordinator["Port"]
    )
