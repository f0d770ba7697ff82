"""Cluster lookup, client factories, error translation and the cluster overview."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from dashboard.kafka.client.counters import requests_count
from dashboard.kafka.client.failures import LIBRDKAFKA_UNAVAILABLE
from dashboard.kafka.config import ClusterConfig, Clusters
from dashboard.kafka.errors import ClusterNotFound, ClusterUnavailable, InvalidRequest

T = TypeVar("T")

_admins: dict[tuple[str, float, tuple[tuple[str, str], ...]], AdminClient] = {}
_admins_lock = threading.Lock()

# A cached client that failed is replaced, so one whose connections or coordinator
# went stale during a broker hang cannot keep a recovered cluster "down" (seen: five
# minutes of 503 while a fresh client read the broker in 3 s). Replaced clients stay
# referenced for a while, so no handle is destroyed while one of its requests is in
# flight; a flapping cluster replaces its client at most once per RETIRE_EVERY.
RETIRE_EVERY_SECONDS = 10.0
RETIRED_KEEP_SECONDS = 60.0
_retired: list[tuple[float, AdminClient]] = []
_retired_at: dict[str, float] = {}


class CountingAdmin(AdminClient):
    """librdkafka's AdminClient, counting each call it is asked to send (requests.py)."""

    cluster = ""

    def list_topics(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="Metadata")
        return super().list_topics(*args, **kwargs)

    def describe_cluster(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="DescribeCluster")
        return super().describe_cluster(*args, **kwargs)

    def list_consumer_groups(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="ListGroups")
        return super().list_consumer_groups(*args, **kwargs)

    def describe_consumer_groups(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="DescribeGroups")
        return super().describe_consumer_groups(*args, **kwargs)

    def list_consumer_group_offsets(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="OffsetFetch")
        return super().list_consumer_group_offsets(*args, **kwargs)

    def alter_consumer_group_offsets(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="OffsetCommit")
        return super().alter_consumer_group_offsets(*args, **kwargs)

    def list_offsets(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="ListOffsets")
        return super().list_offsets(*args, **kwargs)

    def describe_configs(self, *args: Any, **kwargs: Any) -> Any:
        requests_count(cluster=self.cluster, call="DescribeConfigs")
        return super().describe_configs(*args, **kwargs)


@dataclass(frozen=True)
class KafkaSettings:
    """What the client layer is given at start-up: the clusters and the request timeout."""

    clusters: Clusters
    request_timeout: float


# Set by clusters_configure(); the web app calls it from its settings (dashboard/apps.py),
# tools and tests call it with their own values. No Django import here.
_settings: KafkaSettings | None = None


def clusters_configure(*, clusters: Clusters, request_timeout: float) -> None:
    """Give the client layer its clusters and the seconds a request may take."""
    global _settings  # noqa: PLW0603 - one configuration per process, set at start-up
    if request_timeout <= 0:
        raise ValueError(f"request_timeout must be positive, not {request_timeout!r}")
    _settings = KafkaSettings(clusters=clusters, request_timeout=float(request_timeout))


def _configured() -> KafkaSettings:
    if _settings is None:
        raise RuntimeError("the kafka layer is not configured: call clusters_configure() first")
    return _settings


def clusters_all() -> Clusters:
    """Every configured cluster."""
    return _configured().clusters


def cluster_config(*, cluster: str) -> ClusterConfig:
    """The configuration of one cluster; ClusterNotFound if it is not configured."""
    try:
        return clusters_all().by_name[cluster]
    except KeyError:
        raise ClusterNotFound(cluster) from None


def request_timeout() -> float:
    """Seconds a single Kafka request may take before the cluster counts as down."""
    return _configured().request_timeout


def connect_timeout_ms() -> int:
    """librdkafka's socket.connection.setup.timeout.ms for our clients (it takes >= 1000)."""
    return max(int(request_timeout() * 1000), 1000)


def admin_client(*, cluster: str) -> AdminClient:
    """A shared AdminClient for the cluster (created once, reused by every request)."""
    config = cluster_config(cluster=cluster)
    conf = config.client_config()
    timeout = request_timeout()
    key = (cluster, timeout, tuple(sorted(conf.items())))
    with _admins_lock:
        client = _admins.get(key)
        if client is None:
            client = CountingAdmin(
                {
                    **conf,
                    "client.id": "kafkaview-admin",
                    # Fail fast on a dead cluster instead of librdkafka's 30 s default.
                    "socket.connection.setup.timeout.ms": connect_timeout_ms(),
                    "log_level": 3,
                }
            )
            client.cluster = cluster
            _admins[key] = client
    return client


def client_config(*, cluster: str, **extra: object) -> dict[str, Any]:
    """librdkafka settings for a producer or consumer of the cluster, plus extras."""
    return {**cluster_config(cluster=cluster).client_config(), **extra}


def consumer_config(*, cluster: str, purpose: str, **extra: object) -> dict[str, Any]:
    """The settings of one of our own consumers (the tail, the commit reader, lag time).

    Written once: a group id of its own (`kafkaview-<purpose>-<uuid>`) that is never
    joined (we assign partitions) and never committed to, so our readers are invisible
    to consumer-group tooling; a connect timeout; librdkafka's log at errors only.
    """
    return client_config(
        cluster=cluster,
        **{
            "group.id": f"kafkaview-{purpose}-{uuid.uuid4().hex}",
            "client.id": f"kafkaview-{purpose}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "socket.connection.setup.timeout.ms": connect_timeout_ms(),
            "log_level": 3,
            **extra,
        },
    )


def admin_retire(*, cluster: str, now: float | None = None) -> bool:
    """Replace the cluster's cached admin client after a failure (rate-limited); True if done."""
    now = time.monotonic() if now is None else now
    with _admins_lock:
        _retired[:] = [(t, c) for t, c in _retired if now - t < RETIRED_KEEP_SECONDS]
        if now - _retired_at.get(cluster, -RETIRE_EVERY_SECONDS) < RETIRE_EVERY_SECONDS:
            return False
        keys = [key for key in _admins if key[0] == cluster]
        if not keys:
            return False
        _retired_at[cluster] = now
        _retired.extend((now, _admins.pop(key)) for key in keys)
        return True


def unavailable(*, cluster: str, detail: str) -> ClusterUnavailable:
    """The error for a cluster that did not answer; its cached client is replaced."""
    config = cluster_config(cluster=cluster)
    admin_retire(cluster=cluster)
    return ClusterUnavailable(
        cluster=cluster, bootstrap_servers=config.bootstrap_servers, detail=detail
    )


def is_transient(error: KafkaError) -> bool:
    """Whether a Kafka error means "not now" (down, electing, recovering), not "never"."""
    # Not error.retriable(): Kafka counts an unknown topic as retriable, and that is a 404.
    return error.code() in LIBRDKAFKA_UNAVAILABLE


def translate(exc: BaseException, *, cluster: str) -> Exception:
    """Turn a confluent_kafka exception into one of our errors."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(error, KafkaError):
        if is_transient(error):
            return unavailable(cluster=cluster, detail=error.str())
        return InvalidRequest(f"Kafka refused the request: {error.str()}")
    if isinstance(exc, TimeoutError | KafkaException):
        return unavailable(cluster=cluster, detail=str(exc) or "no answer in time")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def wait(future: Future[T], *, cluster: str, timeout: float | None = None) -> T:
    """Wait on an admin future, translating errors and bounding the wait."""
    limit = request_timeout() + 0.5 if timeout is None else timeout
    try:
        return future.result(timeout=limit)
    except KafkaException as exc:
        raise translate(exc, cluster=cluster) from None
    except TimeoutError:
        raise unavailable(cluster=cluster, detail=f"no answer within {limit:.0f} s") from None


def call(fn: Callable[[], T], *, cluster: str) -> T:
    """Run a blocking client call, translating errors."""
    try:
        return fn()
    except KafkaException as exc:
        raise translate(exc, cluster=cluster) from None


def groups_listed(*, cluster: str, future: Future[Any] | None = None) -> list[Any]:
    """The cluster's consumer group listings; our error if any broker could not list its groups."""
    if future is None:
        future = admin_client(cluster=cluster).list_consumer_groups(
            request_timeout=request_timeout()
        )
    listed = wait(future, cluster=cluster)
    # A broker that does not answer shows up in .errors, not as an exception: an
    # incomplete list would silently hide groups, so it is an error too.
    if listed.errors:
        raise translate(KafkaException(listed.errors[0]), cluster=cluster)
    return list(listed.valid)


def admin_clients_forget() -> None:
    """Drop the cached admin clients and our own broker connections."""
    from dashboard.kafka.protocol.pool import connections_forget

    connections_forget()
    with _admins_lock:
        _admins.clear()
        _retired.clear()
        _retired_at.clear()
