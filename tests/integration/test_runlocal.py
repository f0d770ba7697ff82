"""`make run` (manage.py runlocal): Ctrl-C stops everything, quietly, and frees the ports."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from devtools.broker import free_port, port_open
from devtools.daphne import http_wait
from devtools.runlocal import runlocal_interrupt, runlocal_start
from tests.helpers import BASE_DIR, CACHE_DIR


def descendants(pid: int) -> set[int]:
    """Every descendant of a process (from /proc), to check none outlives it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = {child for child, p in parents.items() if p == parent} - found
        found |= children
        todo.extend(children)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def samplers_among(pids: set[int]) -> list[int]:
    """The lag sampler processes among some pids."""
    found = []
    for pid in pids:
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"lag_sampler" in command and alive(pid):
            found.append(pid)
    return found


def test_ctrl_c_stops_server_sampler_demo_and_broker_quietly(tmp_path: Path) -> None:
    kafka_port, web_port = free_port(), free_port()
    run, started = runlocal_start(
        base_dir=BASE_DIR,
        cache_dir=CACHE_DIR,
        tmp=tmp_path,
        kafka_port=kafka_port,
        web_port=web_port,
    )
    try:
        assert any("kafkaview at http://" in line for line in started), started
        http_wait(f"http://127.0.0.1:{web_port}/healthz", timeout=60)
        time.sleep(3)  # let the demo's groups form and the sampler run a few rounds
        spawned = descendants(run.pid)
        # The broker's JVM, the sampler and Daphne at least (the demo runs in threads).
        assert len(spawned) >= 3
        # A sampler that dies (as by a native crash) is started again.
        (first,) = samplers_among(spawned)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        again: list[int] = []
        while not again and time.monotonic() < deadline:
            time.sleep(0.5)
            again = [pid for pid in samplers_among(descendants(run.pid)) if pid != first]
        assert again, "the sampler was not restarted"
        spawned |= descendants(run.pid)
    finally:
        stopped = runlocal_interrupt(run)
    printed = "\n".join(stopped.printed)
    assert "lag sampler exited with code -9; restarting it" in stopped.before, stopped.before
    assert stopped.returncode == 0, printed
    assert stopped.printed[0] == "stopping...", printed
    assert stopped.printed[-1].startswith("stopped in "), printed
    # No connection errors or tracebacks: the broker stops after its clients.
    assert len(stopped.printed) <= 5, printed
    assert "Connection refused" not in printed and "Traceback" not in printed
    assert not [pid for pid in spawned if alive(pid)]
    assert not port_open("127.0.0.1", kafka_port)
    assert not port_open("127.0.0.1", web_port)
