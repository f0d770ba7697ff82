"""Two lag_sampler processes on one database: one samples, the other takes over if it dies."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from devtools.broker import LocalBroker
from tests.helpers import BASE_DIR

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


def test_the_standby_takes_over_within_two_intervals_without_duplicates(
    kafka_broker: LocalBroker, tmp_path: Path
) -> None:
    db = tmp_path / "failover.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "KAFKAVIEW_LOG_LEVEL": "WARNING",
    }
    env.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    cmd = [*manage, "lag_sampler", "--interval", str(INTERVAL)]
    procs = []
    try:
        for i in range(2):
            out = (tmp_path / f"sampler-{i}.log").open("wb")
            procs.append(subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stdout=out, stderr=out))
            time.sleep(1.5 if i == 0 else 0)
        deadline = time.monotonic() + 60
        # Killed while its rounds are short: a sampler's first rounds (commit readers
        # starting, every group of the session broker new to it) can outlast the
        # interval, and a round longer than the interval delays the hand-over by its
        # own length, which is not what this measures.
        while (
            len(rounds(db)) < 3 or holder(db) is None or durations(db)[-1] > 500 * INTERVAL
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        first = holder(db)
        assert first is not None
        active = next(p for p in procs if first.endswith(f":{p.pid}"))
        standby = next(p for p in procs if p is not active)
        before_kill = rounds(db)
        active.send_signal(signal.SIGKILL)
        time.sleep(4 * INTERVAL)
        assert holder(db) == first.rsplit(":", 1)[0] + f":{standby.pid}"
        times = rounds(db)
        assert len(times) >= len(before_kill) + 2, "the standby did not sample"
        # The hole the death left: from the dead one's last round to the standby's first,
        # at most two intervals (and the time its first round takes to begin reading).
        hole = (times[len(before_kill)] - before_kill[-1]).total_seconds()
        assert hole <= 2 * INTERVAL + 1.0, (hole, times, durations(db))
        # No duplicates: never two rounds at once, whoever samples. (A round's time is
        # when it began reading; the first round after a start also starts the commit
        # reader, so neighbours may sit a little closer than an interval.)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.3 * INTERVAL, gaps
        log = (tmp_path / f"sampler-{procs.index(standby)}.log").read_text()
        assert "standby:" in log and "took over the lease" in log
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
