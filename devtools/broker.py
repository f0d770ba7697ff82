"""A real single-node Apache Kafka broker (KRaft, combined mode) run from Maven Central jars.

A development tool: used by `make run` (manage.py runlocal / broker), the test session
and bench/, never by the running dashboard. The jars are fetched once by Maven
(devtools/kafka/pom.xml) into <cache dir>/kafka/<version>/lib,
the storage is formatted on first start, and the JVM is started as a child that
dies with us (PR_SET_PDEATHSIG), so no broker outlives the process that ran it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from dashboard.kafka.client.clients import clusters_all
from devtools.processes import die_with_parent


def cluster_id_new() -> str:
    """A cluster id as Kafka's random-uuid makes it (saves a JVM start)."""
    raw = "-"
    while raw.startswith("-"):  # as Kafka's Uuid.randomUuid: a leading '-' reads as a flag
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return raw


class BrokerStartError(Exception):
    """The local broker could not be fetched, formatted or started."""


# The Maven project and logging set-up ship beside this module (package data).
KAFKA_DIST = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIST / "pom.xml"
LOG4J = KAFKA_DIST / "log4j2.properties"

# Kafka's own CLI tools, by the name of their script in the Apache tarball.
CLI_TOOLS = {
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "topics": "org.apache.kafka.tools.TopicCommand",
    "producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "configs": "kafka.admin.ConfigCommand",
    "storage": "kafka.tools.StorageTool",
    "groups": "org.apache.kafka.tools.GroupsCommand",
    "share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "streams-groups": "org.apache.kafka.tools.streams.StreamsGroupCommand",
    "console-share-consumer": "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
    "transactions": "org.apache.kafka.tools.TransactionsCommand",
    "features": "org.apache.kafka.tools.FeatureCommand",
    "metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "cluster": "org.apache.kafka.tools.ClusterTool",
}

# The JVM is tuned for a small test/dev box: short-lived, two cores, little heap.
JVM_FLAGS = (
    "-Xms128m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
CLI_JVM_FLAGS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# What the tarball's kafka-run-class.sh gives a tool: for fair comparisons in bench/.
TARBALL_CLI_JVM_FLAGS = (
    "-Xmx256M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


def kafka_version() -> str:
    """The Apache Kafka version devtools/kafka/pom.xml pins."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise BrokerStartError(f"{POM} does not set <kafka.version>")
    return match.group(1)


def lib_dir(*, cache_dir: Path) -> Path:
    """Folder holding the broker's runtime classpath for the pinned version."""
    return cache_dir / "kafka" / kafka_version() / "lib"


def jars_ensure(*, cache_dir: Path, quiet: bool = True) -> Path:
    """Fetch the Kafka jars with Maven once; return the folder that holds them."""
    target = lib_dir(cache_dir=cache_dir)
    marker = target / ".complete"
    # The marker names the pom it was fetched for: a changed pom fetches again.
    stamp = f"{kafka_version()} {hashlib.sha256(POM.read_bytes()).hexdigest()[:16]}"
    if marker.exists() and marker.read_text() == stamp:
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerStartError("Maven (mvn) is not installed; run `make setup`.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copy into a temporary folder, then rename: an interrupted fetch leaves no half lib/.
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=target.parent))
    cmd = [
        mvn,
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (result.stdout or "")[-2000:] if quiet else ""
        raise BrokerStartError(f"Maven could not fetch the Kafka jars:\n{detail}")
    (staging / ".complete").write_text(stamp)
    if marker.exists() and marker.read_text() == stamp:
        # Another process (a parallel test worker) finished first and may be using it.
        shutil.rmtree(staging, ignore_errors=True)
        return target
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def java_bin() -> str:
    """The java executable ($JAVA_HOME/bin/java or the one on PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise BrokerStartError("Java is not installed; run `make setup`.")
    return found


def default_cluster_port() -> int:
    """The port of the default cluster's first bootstrap server (9092 unless configured)."""
    clusters = clusters_all()
    first = clusters.by_name[clusters.default].bootstrap_servers.split(",")[0]
    return int(first.rpartition(":")[2])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def cli_run(
    *,
    tool: str,
    args: Sequence[str],
    cache_dir: Path,
    timeout: float = 120,
    check: bool = False,
    jvm_flags: Sequence[str] = CLI_JVM_FLAGS,
) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's CLI tools (e.g. "consumer-groups") from the broker's classpath."""
    if tool not in CLI_TOOLS:
        raise BrokerStartError(f"unknown Kafka tool {tool!r}; known: {', '.join(CLI_TOOLS)}")
    lib = jars_ensure(cache_dir=cache_dir)
    cmd = [
        java_bin(),
        *jvm_flags,
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        f"{lib}/*",
        CLI_TOOLS[tool],
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)


@dataclass(frozen=True)
class BrokerInfo:
    """Where a running local broker listens."""

    bootstrap_servers: str
    port: int
    controller_port: int
    cluster_id: str
    data_dir: Path
    log_path: Path
    version: str


class LocalBroker:
    """A single-node KRaft broker on 127.0.0.1; a context manager that stops it on exit."""

    def __init__(
        self,
        *,
        data_dir: Path,
        cache_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        extra_properties: dict[str, str] | None = None,
        heap: str = "512m",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir)
        self.heap = heap
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self.extra_properties = extra_properties or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.cluster_id: str | None = None
        self.started_in: float | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "kraft"

    def properties(self) -> dict[str, str]:
        """server.properties for one combined broker+controller on loopback."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            # One broker: internal topics must fit on it, or groups never form.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            # Groups form at once instead of after the default 3 s delay.
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "auto.create.topics.enable": "false",
        }
        props.update(self.extra_properties)
        return props

    def format_flags(self) -> tuple[str, ...]:
        """kafka-storage format's quorum flag: this node is the whole quorum."""
        return ("--standalone",)

    def _format(self, lib: Path) -> None:
        meta = self.log_dir / "meta.properties"
        if meta.exists():
            match = re.search(r"^cluster\.id=(.+)$", meta.read_text(), re.MULTILINE)
            self.cluster_id = match.group(1).strip() if match else None
            return
        raw = self.cluster_id or cluster_id_new()
        self.cluster_id = raw
        cmd = [
            java_bin(),
            *CLI_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            f"{lib}/*",
            "kafka.tools.StorageTool",
            "format",
            *self.format_flags(),
            "-t",
            raw,
            "-c",
            str(self.properties_path),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerStartError(
                f"kafka-storage format failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    def start(self, *, timeout: float = 90) -> BrokerInfo:
        """Fetch jars if needed, format storage once, start the JVM and wait until ready."""
        if self.process is not None and self.process.poll() is None:
            return self.info()
        began = time.monotonic()
        self.launch()
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self.info()

    def ports(self) -> tuple[int, ...]:
        """The ports this node listens on."""
        return (self.port, self.controller_port)

    def launch(self) -> None:
        """Format storage once and start the JVM, without waiting for it."""
        lib = jars_ensure(cache_dir=self.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        self._format(lib)
        for port in self.ports():
            if port_open("127.0.0.1", port):
                raise BrokerStartError(
                    f"port {port} on 127.0.0.1 is already in use; is another broker running?"
                )
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    java_bin(),
                    *JVM_FLAGS,
                    f"-Xmx{self.heap}",
                    f"-Dlog4j2.configurationFile={LOG4J}",
                    "-cp",
                    f"{lib}/*",
                    "kafka.Kafka",
                    str(self.properties_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C must not stop the broker before its
                # clients; whoever started it stops it (stop()), or it dies with them.
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - needed for PDEATHSIG
            )
        finally:
            log.close()

    def wait_ready(self, *, timeout: float) -> None:
        """Block until an AdminClient's describe_cluster answers (or the JVM dies)."""
        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerStartError(
                    f"the broker exited with code {self.process.returncode}; "
                    f"last log lines:\n{self.log_tail()}"
                )
            if port_open("127.0.0.1", self.port):
                try:
                    admin.describe_cluster(request_timeout=2).result(timeout=3)
                    return
                except (KafkaException, TimeoutError):
                    pass
            time.sleep(0.2)
        raise BrokerStartError(
            f"the broker did not answer within {timeout:.0f} s; last log lines:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the broker's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def info(self) -> BrokerInfo:
        """Where the broker listens and what it runs."""
        return BrokerInfo(
            bootstrap_servers=self.bootstrap_servers,
            port=self.port,
            controller_port=self.controller_port,
            cluster_id=self.cluster_id or "",
            data_dir=self.data_dir,
            log_path=self.log_path,
            version=kafka_version(),
        )

    def running(self) -> bool:
        """Whether the broker's JVM is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 20) -> None:
        """SIGTERM the JVM (a clean controlled shutdown); SIGKILL it if it hangs."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tiered_properties(remote_dir: Path) -> dict[str, str]:
    """A broker's settings for tiered storage (KIP-405) with Kafka's LocalTieredStorage
    plugin (kafka-storage's test jar): "remote" storage is a local folder."""
    return {
        "remote.log.storage.system.enable": "true",
        "remote.log.storage.manager.class.name": (
            "org.apache.kafka.server.log.remote.storage.LocalTieredStorage"
        ),
        "remote.log.storage.manager.impl.prefix": "rsm.config.",
        "rsm.config.dir": str(remote_dir),
        "remote.log.metadata.manager.listener.name": "PLAINTEXT",
        "remote.log.metadata.manager.impl.prefix": "rlmm.config.",
        "rlmm.config.remote.log.metadata.topic.replication.factor": "1",
        "rlmm.config.remote.log.metadata.topic.num.partitions": "1",
        # Copy and delete within a second or two, not minutes.
        "remote.log.manager.task.interval.ms": "1000",
        "log.retention.check.interval.ms": "1000",
    }


class ClusterNode(LocalBroker):
    """One node of a LocalCluster: the controller (the whole KRaft quorum) or a broker."""

    def __init__(
        self, *, node_id: int, controller: bool, quorum: str, cluster_id: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.node_id, self.controller, self.quorum = node_id, controller, quorum
        self.cluster_id = cluster_id

    def properties(self) -> dict[str, str]:
        props = super().properties()
        props.update(
            {
                "node.id": str(self.node_id),
                "process.roles": "controller" if self.controller else "broker",
                "controller.quorum.bootstrap.servers": self.quorum,
            }
        )
        if self.controller:
            listener = f"CONTROLLER://127.0.0.1:{self.controller_port}"
            props.pop("inter.broker.listener.name")
        else:
            listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        props["listeners"] = props["advertised.listeners"] = listener
        return props

    def format_flags(self) -> tuple[str, ...]:
        # The controller is the quorum; a broker only observes it.
        return ("--standalone",) if self.controller else ()

    def ports(self) -> tuple[int, ...]:
        return (self.controller_port,) if self.controller else (self.port,)

    def wait_ready(self, *, timeout: float) -> None:
        if not self.controller:
            super().wait_ready(timeout=timeout)
            return
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.controller_port):
            if self.process is not None and self.process.poll() is not None:
                raise BrokerStartError(f"the controller exited; last log lines:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BrokerStartError(f"the controller did not listen; {self.log_tail()}")
            time.sleep(0.2)


class LocalCluster:
    """A KRaft controller and `brokers` brokers (ids 1..n) on loopback, as a production
    cluster is laid out: the quorum apart from the brokers, so brokers can die."""

    def __init__(
        self,
        *,
        data_dir: Path,
        cache_dir: Path,
        brokers: int = 3,
        extra_properties: dict[str, str] | None = None,
        heap: str = "384m",
    ) -> None:
        cluster_id = cluster_id_new()
        controller_port = free_port()
        quorum = f"127.0.0.1:{controller_port}"
        common: dict[str, Any] = {
            "cache_dir": cache_dir,
            "cluster_id": cluster_id,
            "quorum": quorum,
            "extra_properties": {
                # Brokers that stop are fenced and leave the ISR at once, not after 9 s.
                "broker.session.timeout.ms": "6000",
                **(extra_properties or {}),
            },
            "heap": heap,
        }
        self.controller = ClusterNode(
            node_id=0,
            controller=True,
            data_dir=Path(data_dir) / "controller",
            controller_port=controller_port,
            **common,
        )
        self.brokers = [
            ClusterNode(
                node_id=i, controller=False, data_dir=Path(data_dir) / f"broker-{i}", **common
            )
            for i in range(1, brokers + 1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.bootstrap_servers for b in self.brokers)

    def broker(self, node_id: int) -> ClusterNode:
        """The broker with that node id."""
        return next(b for b in self.brokers if b.node_id == node_id)

    def start(self, *, timeout: float = 120) -> None:
        """Start the controller, then every broker at once, and wait for them all."""
        try:
            self.controller.start(timeout=timeout)
            for b in self.brokers:
                b.launch()
            for b in self.brokers:
                b.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the brokers, then the controller."""
        for node in [*self.brokers, self.controller]:
            node.stop()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
