"""Daphne as a child process, for `make run`, the browser and websocket tests, and bench/."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
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


def daphne_pool_start(
    *,
    host: str = "127.0.0.1",
    port: int,
    processes: int,
    cwd: Path,
    env: Mapping[str, str],
    log: IO[bytes] | None = None,
    own_ports: Sequence[int] = (),
) -> list[subprocess.Popen[bytes]]:
    """Start `processes` Daphnes accepting on one listening socket on host:port.

    We bind the socket and every child adopts it (Daphne's `--fd`), so the kernel hands
    each new connection to whichever process accepts first: one Python process is one core
    at most (the GIL), several use them all. `own_ports[i]`, if given, is a second port
    only process i listens on (to read one process's /metrics).
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes == 1 and not own_ports:
        return [daphne_start(host=host, port=port, cwd=cwd, env=env, log=log)]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1024)
        fd = listener.fileno()
        children = []
        for n in range(processes):
            cmd = [sys.executable, "-m", "daphne", "--fd", str(fd)]
            if n < len(own_ports):
                cmd += ["-e", f"tcp:port={own_ports[n]}:interface={host}"]
            children.append(
                child_start(
                    [*cmd, ASGI_APP],
                    cwd=cwd,
                    env=dict(env),
                    stdout=log,
                    stderr=subprocess.STDOUT if log is not None else None,
                    pass_fds=(fd,),
                )
            )
        return children
    finally:
        # Every child holds its own copy of the socket now.
        listener.close()
