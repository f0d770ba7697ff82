"""Two lag_sampler processes on one database: one samples, the other takes over if it dies."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from devtools.broker import LocalBroker
from tests.helpers import BASE_DIR, until

# The session's broker holds every other test's groups by now: a round takes a while.
INTERVAL = 2.0


def rounds(db: Path) -> list[datetime]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select at from dashboard_sampleround order by at").fetchall()
    return [datetime.fromisoformat(at) for (at,) in rows]


def durations(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select duration_ms from dashboard_sampleround order by at").fetchall()
    return [d for (d,) in rows]


def holder(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("select holder from dashboard_samplerlease").fetchone()
    return row[0] if row and row[0] else None


def samplers_env(db: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    """The environment of lag_sampler processes on their own database, migrated."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKAVIEW_LOG_LEVEL": "WARNING",
        **extra,
    }
    env.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    return env


def samplers_start(tmp_path: Path, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """Two lag_sampler processes; the first starts first, so it is the one that holds."""
    cmd = [sys.executable, "manage.py", "lag_sampler", "--interval", str(INTERVAL)]
    procs = []
    for i in range(2):
        out = (tmp_path / f"sampler-{i}.log").open("wb")
        procs.append(subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stdout=out, stderr=out))
        time.sleep(1.5 if i == 0 else 0)  # the order of two process starts, not a wait
    return procs


def samplers_stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT what still runs (a clean stop), SIGKILL what does not stop."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_the_standby_takes_over_and_no_two_rounds_overlap(
    kafka_broker: LocalBroker, tmp_path: Path
) -> None:
    db = tmp_path / "failover.sqlite3"
    env = samplers_env(db, kafka_broker.bootstrap_servers)
    procs = samplers_start(tmp_path, env)
    try:
        deadline = time.monotonic() + 60
        while (len(rounds(db)) < 3 or holder(db) is None) and time.monotonic() < deadline:
            time.sleep(0.2)
        first = holder(db)
        assert first is not None
        active = next(p for p in procs if first.endswith(f":{p.pid}"))
        standby = next(p for p in procs if p is not active)
        before_kill = rounds(db)
        active.send_signal(signal.SIGKILL)
        # How soon the standby takes over is the lease's arithmetic, tested on a stepped
        # clock (test_lease.py); here: that it does, and that no two rounds ever overlap.
        successor = first.rsplit(":", 1)[0] + f":{standby.pid}"
        deadline = time.monotonic() + 60
        while (holder(db) != successor or len(rounds(db)) < len(before_kill) + 2) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert holder(db) == successor
        times, took = rounds(db), durations(db)
        assert len(times) >= len(before_kill) + 2, "the standby did not sample"
        # A round's time is when it began reading, its duration how long it read: each
        # ends before the next begins, whoever sampled it (1 ms: both are stored in ms).
        for (a, d), b in zip(zip(times, took, strict=True), times[1:], strict=False):
            assert (b - a).total_seconds() * 1000 >= d - 1, (times, took)
        log = (tmp_path / f"sampler-{procs.index(standby)}.log").read_text()
        assert "standby:" in log and "took over the lease" in log
    finally:
        samplers_stop(procs)


def notifications(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select kind, state from dashboard_notification order by id")
        return [(k, s) for k, s in rows.fetchall()]


def test_a_takeover_neither_loses_nor_repeats_a_notification(
    kafka_broker: LocalBroker, tmp_path: Path, make_topic
) -> None:
    from confluent_kafka import Producer

    from tests.helpers import unique
    from tests.integration.test_alerts import Receiver
    from tests.integration.test_history import Committer

    receiver = Receiver()
    group, topic = unique("failover-alert"), make_topic("failover-alert")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(10):
        producer.produce(topic, value=b"%d" % i)
    assert producer.flush(15) == 0
    committer = Committer(kafka_broker.bootstrap_servers, group)
    committer.commit(topic, 0)  # 10 behind
    rules = tmp_path / "alerts.toml"
    rules.write_text(
        '[[receivers]]\nname = "hook"\ntype = "webhook"\nurl_env = "TEST_HOOK_URL"\n\n'
        f'[[rules]]\nname = "behind"\non = "group"\nmatch = "{group}"\n'
        'when = "lag_messages"\nabove = 3\nclear_below = 0\nreceivers = ["hook"]\n'
    )
    db = tmp_path / "failover.sqlite3"
    env = samplers_env(
        db,
        kafka_broker.bootstrap_servers,
        KAFKAVIEW_ALERTS_FILE=str(rules),
        TEST_HOOK_URL=receiver.url,
    )
    procs = samplers_start(tmp_path, env)
    try:
        until(lambda: notifications(db) == [("open", "sent")], timeout=90)
        assert notifications(db) == [("open", "sent")], notifications(db)
        first = holder(db)
        assert first is not None
        active = next(p for p in procs if first.endswith(f":{p.pid}"))
        active.send_signal(signal.SIGKILL)
        committer.commit(topic, 10)  # caught up while the standby takes over
        until(
            lambda: len(notifications(db)) == 2 and notifications(db)[-1][1] == "sent", timeout=90
        )
        assert notifications(db) == [("open", "sent"), ("resolved", "sent")]
        assert [b["state"] for b in receiver.bodies] == ["open", "resolved"]
        assert holder(db) != first
    finally:
        committer.close()
        receiver.close()
        samplers_stop(procs)
