"""`make run` as a child: started as a terminal would start it, and stopped by Ctrl-C.

For the test that checks Ctrl-C and for bench/shutdown.py, which measures it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.broker import free_port


@dataclass(frozen=True)
class Stopped:
    """What Ctrl-C did: the exit code, the seconds it took, what was printed after it."""

    returncode: int
    seconds: float
    printed: list[str]  # from "stopping..." on
    before: str  # what it printed between start-up and Ctrl-C


def runlocal_start(
    *, base_dir: Path, cache_dir: Path, tmp: Path, kafka_port: int, web_port: int
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `manage.py runlocal` on free ports with its data in tmp; return it and its
    output up to "kafkaview at http://..." (the dashboard is then being served)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "KAFKAVIEW_PORT": str(web_port),
        "KAFKAVIEW_CACHE_DIR": str(cache_dir),
        "KAFKAVIEW_SAMPLE_INTERVAL": "1",
        "DJANGO_SUPERUSER_PASSWORD": "not-printed-anywhere",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    command = [sys.executable, "manage.py", "runlocal", "--kafka-port", str(kafka_port)]
    # Not the Kafka port + 1: on a machine running other brokers and clients (parallel
    # test workers), that neighbour may be some connection's local port already.
    controller = free_port()
    while controller in {kafka_port, web_port}:
        controller = free_port()
    command += ["--controller-port", str(controller)]
    command += ["--data-dir", str(tmp / "kafka")]
    # Its own process group, as a terminal's foreground job: Ctrl-C signals the group.
    run = subprocess.Popen(
        command,
        cwd=base_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    lines: list[str] = []
    for line in run.stdout:
        lines.append(line.rstrip("\n"))
        if "kafkaview at http://" in line:
            break
    return run, lines


def runlocal_interrupt(run: subprocess.Popen[str], *, timeout: float = 60) -> Stopped:
    """Send SIGINT to its process group (what Ctrl-C does) and wait for it to exit."""
    began = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)
    try:
        rest, _ = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    seconds = time.monotonic() - began
    lines = rest.splitlines()
    cut = lines.index("stopping...") if "stopping..." in lines else 0
    return Stopped(
        returncode=run.returncode,
        seconds=seconds,
        printed=lines[cut:],
        before="\n".join(lines[:cut]),
    )
