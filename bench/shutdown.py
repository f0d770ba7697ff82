"""Ctrl-C on `make run`: seconds until everything stopped, lines printed, ports freed.

Starts `manage.py runlocal` (local broker on free ports, demo traffic, sampler,
Daphne) as a terminal would, waits until the dashboard answers and the demo runs,
sends SIGINT to the process group (what Ctrl-C does) and measures.

    .venv/bin/python bench/shutdown.py [--runs 3] [--warm 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import BASE_DIR, CACHE_DIR, median, table


def one_run(warm: float) -> tuple[float, int, bool]:
    """(seconds from Ctrl-C to exit, lines printed after it, ports free afterwards)."""
    from devtools.broker import free_port, port_open
    from devtools.daphne import http_wait
    from devtools.runlocal import runlocal_interrupt, runlocal_start

    kafka_port, web_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="kafkaview-shutdown-") as tmp:
        run, _ = runlocal_start(
            base_dir=BASE_DIR,
            cache_dir=CACHE_DIR,
            tmp=Path(tmp),
            kafka_port=kafka_port,
            web_port=web_port,
        )
        http_wait(f"http://127.0.0.1:{web_port}/healthz", timeout=60)
        time.sleep(warm)  # demo traffic flowing, sampler rounds, consumers in their groups
        stopped = runlocal_interrupt(run, timeout=120)
        free = not port_open("127.0.0.1", kafka_port) and not port_open("127.0.0.1", web_port)
        return stopped.seconds, len(stopped.printed), free


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=float, default=5.0, help="seconds of traffic first")
    args = parser.parse_args()
    results = [one_run(args.warm) for _ in range(args.runs)]
    times = [r[0] for r in results]
    print(
        table(
            ["measure", "value", "target"],
            [
                ["runs", args.runs, ""],
                ["Ctrl-C to exit, median", f"{median(times):.1f} s", "<= 5 s"],
                ["Ctrl-C to exit, slowest", f"{max(times):.1f} s", "<= 5 s"],
                ["lines printed after Ctrl-C, most", max(r[1] for r in results), "a few"],
                ["ports free afterwards", all(r[2] for r in results), "True"],
            ],
        )
    )


if __name__ == "__main__":
    main()
