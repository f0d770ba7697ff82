"""Child processes of `make run` and the tests: started apart from the terminal, stopped in order.

Ctrl-C in a terminal signals the whole foreground process group at once. If the broker
got it too, it would die while the demo clients, the sampler and Daphne still talk to
it, and they would print connection errors until they were stopped. So children run
in their own session (the terminal's Ctrl-C reaches only their parent), die with their
parent if it is killed (PR_SET_PDEATHSIG), and are stopped by the parent, in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Popen preexec_fn: Linux SIGTERMs the child when its parent dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def child_start(cmd: Sequence[str], **popen: object) -> subprocess.Popen[bytes]:
    """Start a child in its own session that dies with us."""
    return subprocess.Popen(  # type: ignore[call-overload]
        list(cmd),
        start_new_session=True,  # the terminal's Ctrl-C is for us; we stop the child
        preexec_fn=die_with_parent,  # noqa: PLW1509 - PDEATHSIG must be set in the child
        **popen,
    )


def children_stop(children: Sequence[subprocess.Popen[bytes] | None], *, grace: float) -> None:
    """SIGTERM every child at once, wait up to `grace` seconds in all, SIGKILL what is left."""
    alive = [c for c in children if c is not None and c.poll() is None]
    for child in alive:
        child.terminate()
    deadline = time.monotonic() + grace
    for child in alive:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)


class ChildServer:
    """A server run as one child with a log file: its log's end, whether it lives, its stop."""

    process: subprocess.Popen[bytes] | None = None
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def running(self) -> bool:
        """Whether the server is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 20) -> None:
        """SIGTERM the server; SIGKILL it if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
