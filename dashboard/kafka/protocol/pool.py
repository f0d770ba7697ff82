"""Connections to each broker of a cluster, and requests sent to them as futures."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dashboard.kafka.protocol.wire import Codec, Connection

# Blocking sockets, so a few threads keep requests to different brokers in flight
# together; requests to one broker share its connection one after the other.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kafkaview-protocol")
_connections: dict[tuple[str, str, int], Connection] = {}
_lock = threading.Lock()


def _connection(
    *, cluster: str, host: str, port: int, settings: dict[str, str], timeout: float
) -> Connection:
    key = (cluster, host, port)
    with _lock:
        existing = _connections.get(key)
    if existing is not None:
        return existing
    fresh = Connection(host, port, settings, timeout)
    with _lock:
        current = _connections.setdefault(key, fresh)
    if current is not fresh:
        fresh.close()
    return current


def _forget(cluster: str, host: str, port: int, connection: Connection | None) -> None:
    with _lock:
        if connection is None or _connections.get((cluster, host, port)) is connection:
            _connections.pop((cluster, host, port), None)
    if connection is not None:
        connection.close()


def _run(  # noqa: PLR0917 - the executor passes positional arguments
    cluster: str,
    host: str,
    port: int,
    settings: dict[str, str],
    name: str,
    values: dict[str, Any] | Codec,
    timeout: float,
    low: int | None,
    high: int | None,
) -> Any:
    connection = None
    try:
        connection = _connection(
            cluster=cluster, host=host, port=port, settings=settings, timeout=timeout
        )
        return connection.request(name, values, timeout=timeout, low=low, high=high)
    except BaseException:
        # A half-read answer leaves the socket out of step: start afresh next time.
        _forget(cluster, host, port, connection)
        raise


def request_send(
    *,
    cluster: str,
    host: str,
    port: int,
    settings: dict[str, str],
    name: str,
    values: dict[str, Any] | Codec,
    timeout: float,
    low: int | None = None,
    high: int | None = None,
) -> Future[Any]:
    """Send one request to a broker in the background; the future holds the decoded answer."""
    return _executor.submit(_run, cluster, host, port, settings, name, values, timeout, low, high)


def connections_forget() -> None:
    """Close every cached connection (tests, and a cluster whose brokers moved)."""
    with _lock:
        items = list(_connections.values())
        _connections.clear()
    for connection in items:
        connection.close()
