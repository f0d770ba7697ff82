"""Shared by the long-running commands (lag_sampler, runlocal, broker, demo): SIGTERM is Ctrl-C."""

import signal
import threading
from types import FrameType


def sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so `finally` blocks stop what we started."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        # A shell that starts us in the background leaves SIGINT ignored; take it back.
        signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_forever() -> None:
    """Block until Ctrl-C or SIGTERM."""
    threading.Event().wait()
