"""Daphne as a child process, for `make run`, the browser and websocket tests, and bench/."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from devtools.processes import child_start

ASGI_APP = "kafkaview.asgi:application"


def daphne_command(*, host: str, port: int) -> list[str]:
    """The command line that serves kafkaview on host:port."""
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), ASGI_APP]


def daphne_start(
    *,
    host: str = "127.0.0.1",
    port: int,
    cwd: Path,
    env: Mapping[str, str],
    log: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start Daphne in its own session (it dies with us); log None means our own output."""
    return child_start(
        daphne_command(host=host, port=port),
        cwd=cwd,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )


def http_wait(url: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until url answers 2xx; RuntimeError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if 200 <= response.status < 300:
                    return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)
