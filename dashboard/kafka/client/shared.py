"""Shared reads: viewers of the same view of the same cluster share one Kafka read.

During an incident many people open the same pages at once; without sharing, each
request repeats the same Kafka requests, and the dashboard is slowest (and loads the
cluster most) exactly then. A read in flight is joined by every request for the same
key; a finished read is reused while it is at most `read_max_age` seconds old (0: no
sharing at all).
Errors are shared by the requests that waited for them, never kept. Every result keeps
the `read_at` of the read that produced it, so an answer still says how old it is.
With several web processes, `generation` (given by the caller) says whether anything was
written since: a read is joined or reused only under the generation it was made under.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
# key -> (future of the read, monotonic time it finished or None while in flight)
_reads: dict[Hashable, tuple[Future[Any], float | None]] = {}
_max_age = 1.0
_generation: Callable[[], Hashable | None] | None = None
_KEEP = 1024  # finished entries kept at most (oldest dropped first)
# What measures a read's age; tests step their own instead of sleeping past max_age.
_clock: Callable[[], float] = time.monotonic


def shared_configure(
    *, read_max_age: float, generation: Callable[[], Hashable | None] | None = None
) -> None:
    """Seconds a finished read may be reused (0: off), and what says a write happened since.

    generation() is asked at every shared read; reads are shared only among callers that
    got the same answer, and not at all while it answers None.
    """
    global _max_age, _generation  # noqa: PLW0603 - one setting per process, set at start-up
    if read_max_age < 0:
        raise ValueError(f"read_max_age must be >= 0, not {read_max_age!r}")
    _max_age = float(read_max_age)
    _generation = generation
    shared_forget()


def shared_clock(clock: Callable[[], float] = time.monotonic) -> None:
    """The monotonic seconds that age finished reads (tests pass a stepped clock)."""
    global _clock  # noqa: PLW0603 - one clock per process
    _clock = clock


def shared_forget() -> None:
    """Forget every finished read (tests; a changed configuration)."""
    with _lock:
        for key in [k for k, (_, done) in _reads.items() if done is not None]:
            del _reads[key]


def shared_read(key: Hashable, read: Callable[[], T]) -> T:
    """read()'s result, shared with concurrent callers of the same key and briefly reused."""
    if _max_age <= 0:
        return read()  # sharing off: every request reads Kafka itself
    if _generation is not None:
        generation = _generation()
        if generation is None:
            return read()  # cannot tell whether someone wrote since: read for ourselves
        key = (generation, key)
    now = _clock()
    with _lock:
        entry = _reads.get(key)
        if entry is not None:
            future, done = entry
            if done is None or now - done <= _max_age:
                owner = False
            else:
                entry = None
        if entry is None:
            future = Future()
            _reads[key] = (future, None)
            owner = True
    if not owner:
        result: T = future.result()
        return result
    try:
        value = read()
    except BaseException as exc:
        with _lock:
            if _reads.get(key, (None,))[0] is future:
                del _reads[key]
        future.set_exception(exc)
        raise
    with _lock:
        _reads[key] = (future, _clock())
        if len(_reads) > _KEEP:
            finished = sorted((d, k) for k, (_, d) in _reads.items() if d is not None)
            for _, old in finished[: len(_reads) - _KEEP]:
                del _reads[old]
    future.set_result(value)
    return value
