"""The local broker: start, ready, restart on the same data, stop leaving no JVM; Kafka's CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from devtools.broker import BrokerStartError, LocalBroker, cli_run, kafka_version, port_open
from tests.helpers import BASE_DIR, CACHE_DIR


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not a running JVM.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_dead(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_ready_restart_and_stop_leave_no_process(tmp_path: Path) -> None:
    broker = LocalBroker(cache_dir=CACHE_DIR, data_dir=tmp_path)
    info = broker.start()
    assert broker.process is not None
    pid = broker.process.pid
    admin = AdminClient({"bootstrap.servers": info.bootstrap_servers})
    described = admin.describe_cluster(request_timeout=10).result()
    assert described.cluster_id == info.cluster_id
    assert [(n.id, n.host, n.port) for n in described.nodes] == [(1, "127.0.0.1", broker.port)]
    admin.create_topics([NewTopic("kept", 2, 1)])["kept"].result(timeout=15)

    broker.stop()
    assert not pid_alive(pid)
    assert not port_open("127.0.0.1", broker.port)

    # Same data dir: storage is not formatted again, the cluster and its topics remain.
    again = LocalBroker(
        cache_dir=CACHE_DIR,
        data_dir=tmp_path,
        port=broker.port,
        controller_port=broker.controller_port,
    )
    with again:
        assert again.info().cluster_id == info.cluster_id
        topics = AdminClient({"bootstrap.servers": again.bootstrap_servers}).list_topics(timeout=10)
        assert len(topics.topics["kept"].partitions) == 2
        assert again.process is not None
        pid = again.process.pid
    assert not pid_alive(pid)


def test_broker_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from devtools.broker import LocalBroker\n"
        "b = LocalBroker(cache_dir=Path(sys.argv[2]), data_dir=Path(sys.argv[1]))\n"
        "b.start()\n"
        "print(b.process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), str(CACHE_DIR)],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    jvm_pid = int(parent.stdout.readline())
    assert pid_alive(jvm_pid)
    parent.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
    parent.wait()
    assert wait_dead(jvm_pid)


def test_port_in_use_is_a_clear_error(tmp_path: Path, kafka_broker: LocalBroker) -> None:
    clash = LocalBroker(cache_dir=CACHE_DIR, data_dir=tmp_path, port=kafka_broker.port)
    with pytest.raises(BrokerStartError, match=f"port {kafka_broker.port} .* already in use"):
        clash.start()


def test_kafka_cli_tools_run_from_the_same_classpath(kafka_broker: LocalBroker, make_topic) -> None:
    topic = make_topic("cli")
    result = cli_run(
        cache_dir=CACHE_DIR,
        tool="topics",
        args=["--bootstrap-server", kafka_broker.bootstrap_servers, "--list"],
    )
    assert result.returncode == 0, result.stderr
    assert topic in result.stdout.split()
    groups = cli_run(
        cache_dir=CACHE_DIR,
        tool="consumer-groups",
        args=["--bootstrap-server", kafka_broker.bootstrap_servers, "--list"],
    )
    assert groups.returncode == 0, groups.stderr


def test_version_is_the_pinned_kafka_4() -> None:
    assert kafka_version().split(".")[0] == "4"
