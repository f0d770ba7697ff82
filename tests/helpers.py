"""Helpers shared by unit and integration tests (no broker, no JVM)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from dashboard.kafka.config import ClusterConfig, Clusters

BASE_DIR = Path(__file__).resolve().parents[1]
# Where the Kafka jars and the test logs are kept (settings.KAFKAVIEW_CACHE_DIR).
CACHE_DIR = Path(settings.KAFKAVIEW_CACHE_DIR)
PASSWORD = "correct-horse-battery-staple"


def worker_log(name: str) -> Path:
    """A log file in CACHE_DIR for this test process (pytest-xdist workers each get theirs)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    stem, dot, ext = name.rpartition(".")
    return CACHE_DIR / (f"{stem}-{worker}{dot}{ext}" if worker else name)


# Record timestamps for fixtures: an hour ago, whole seconds. A broker deletes records
# older than its retention (7 days) at its next check, every 5 minutes: a fixture written
# with timestamps from 1970 or 2023 could lose its records between two lines of a test.
RECENT_MS = (int(time.time()) - 3600) * 1000


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def clusters_for(bootstrap: str, **others: ClusterConfig) -> Clusters:
    """A cluster registry whose `local` points at bootstrap, plus any others."""
    local = ClusterConfig(name="local", bootstrap_servers=bootstrap)
    return Clusters(by_name={"local": local, **others}, default="local", source="environment")


class SteppedClock:
    """A clock that moves only when the test says so (ms precision, like stored rounds)."""

    def __init__(self, start: datetime | None = None) -> None:
        now = start or datetime.now(UTC)
        self.now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        """The same clock as monotonic-style seconds (for code that ages things)."""
        return self.now.timestamp()

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        self.now += timedelta(milliseconds=round(seconds * 1000))
        return self.now


T = TypeVar("T")


def until(check: Callable[[], T | None], *, timeout: float = 60.0, step: float = 0.2) -> T:
    """check() until it answers something true. Only for what another process does (a
    broker applying a setting, a JVM stopping, a second sampler): there is no clock to
    pass in there. The bound only stops a hung test; the answer is what is asserted."""
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        assert time.monotonic() < deadline, f"not within {timeout:g} s"
        time.sleep(step)
    return answer


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check` in a fresh process with these environment variables: start-up."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
