"""Consumer health from sampled offsets: Burrow's evaluation rules and lag in seconds (pure).

Burrow (github.com/linkedin/Burrow, evaluator "caching", `calculatePartitionStatus`)
judges a partition over a window of its most recent offsets. kafkaview's window is
the last N samples of the sampler, and it knows each partition's last commit time
from the commits in `__consumer_offsets`, so STALL (commits that do not move) and
STOP (no commits at all) can be told apart the way Burrow does. The order of the
checks is Burrow's:

1. no lag now → OK (a caught-up partition is never in trouble);
2. STOP: the last commit is older than the window's span (the time between its
   first and last sample; a full window's span while it is still filling);
3. if lag was zero at any sample in the window → OK;
4. REWIND: the committed offset went back between two samples;
5. STALL: the committed offset did not move across the window (while commits continue);
6. WARN: the committed offset moved but lag never decreased between two samples;
7. otherwise OK.

A group's status is its worst partition's.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Status(enum.IntEnum):
    """Partition and group verdicts, ordered by severity (a group takes its worst)."""

    OK = 0
    WARN = 1
    REWIND = 2
    STALL = 3
    STOP = 4


STATUS_HELP = {
    Status.OK: "Consuming: lag is zero now or was zero within the window, or it is shrinking.",
    Status.WARN: "Falling behind: offsets are committed and move, but lag never decreased "
    "across the window.",
    Status.REWIND: "The committed offset went back within the window (an offset reset or a "
    "consumer that restarted from an older position).",
    Status.STALL: "Commits keep arriving but the committed offset did not move across the "
    "window while there is lag: the consumer is stuck (e.g. a poison message).",
    Status.STOP: "No commit for longer than the window while there is lag: the consumer "
    "has stopped.",
}


@dataclass(frozen=True)
class WindowPoint:
    """One sample of a partition as a group sees it."""

    at: float  # seconds since the epoch
    committed: int
    lag: int
    last_commit_at: float | None  # commit time from __consumer_offsets, when known


def partition_status(
    window: Sequence[WindowPoint], *, now: float, stop_after: float
) -> Status | None:
    """Burrow's verdict on a partition's window (oldest first); None without samples.

    stop_after is the span of a full window (interval * (samples - 1)): while the
    window fills up after a start, a consumer is not called stopped any sooner.
    """
    if not window:
        return None
    latest = window[-1]
    if latest.lag <= 0:
        return Status.OK
    if latest.last_commit_at is not None:
        if now - latest.last_commit_at > max(latest.at - window[0].at, stop_after):
            return Status.STOP
    elif now - window[0].at > stop_after:
        # No commit known (e.g. older than the offsets topic keeps): the committed
        # offset has not moved since the window began.
        return Status.STOP
    if any(p.lag <= 0 for p in window):
        return Status.OK
    pairs = list(itertools.pairwise(window))
    if any(b.committed < a.committed for a, b in pairs):
        return Status.REWIND
    if len(window) >= 2 and all(b.committed == a.committed for a, b in pairs):
        return Status.STALL
    if pairs and all(b.lag >= a.lag for a, b in pairs):
        return Status.WARN
    return Status.OK


def group_status(statuses: Iterable[Status | None]) -> Status | None:
    """The worst partition status; None when no partition has samples."""
    known = [s for s in statuses if s is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class LagEstimate:
    """Estimated lag in seconds (interpolated); `at_least` when older than the kept history.

    "Lag seconds" has two meanings in kafkaview, kept apart by name: `lag_seconds` is
    exact (the age of the first unconsumed message, read from Kafka on the group page);
    `lag_seconds_estimate` is this interpolation, used by the sampler, lists and metrics.
    """

    seconds: float
    at_least: bool


def lag_seconds_estimate(
    points: Sequence[tuple[float, int]], *, committed: int, end: int, now: float
) -> LagEstimate | None:
    """How long ago offset `committed` was produced, interpolated from (time, end offset) points.

    Points are the partition's sampled log-end offsets, oldest first. The message
    at offset c was written after the end offset was last seen at or below c and
    before it was first seen above c; linear interpolation between those two
    samples estimates when (as Kafka Lag Exporter does).
    """
    if committed >= end:
        return LagEstimate(0.0, False)
    if not points:
        return None
    # A recreated topic starts its offsets again: only the points since then count.
    for i in range(len(points) - 1, 0, -1):
        if points[i][1] < points[i - 1][1]:
            points = points[i:]
            break
    if points[-1][1] < end:
        # The live end offset is the newest point: messages past the last sample came since.
        points = [*points, (now, end)]
    ends = [e for _, e in points]
    # The first point whose end offset is past the committed offset.
    j = bisect.bisect_right(ends, committed)
    if j == 0:
        # Produced before the first sample we have: we only know a lower bound.
        return LagEstimate(max(now - points[0][0], 0.0), True)
    if j == len(points):
        return LagEstimate(0.0, False)
    (t0, e0), (t1, e1) = points[j - 1], points[j]
    produced = t0 + (t1 - t0) * (committed - e0 + 1) / (e1 - e0)
    return LagEstimate(max(now - produced, 0.0), False)
