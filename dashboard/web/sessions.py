"""Database sessions whose reads are kept in this web process for a moment."""

from __future__ import annotations

import copy
import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

# session key -> (monotonic time read, decoded data). Bounded: cleared when it grows past
# this (a real site has far fewer sessions active within a few seconds).
_recent: dict[str, tuple[float, dict[str, Any]]] = {}
_RECENT_MAX = 10_000


def forget_all() -> None:
    """Drop every kept session read (tests)."""
    _recent.clear()


class SessionStore(DatabaseSessionStore):
    """Django's database sessions, but a read is reused for KAFKAVIEW_SESSION_CACHE seconds.

    Reading the session row on every request was ~12 % of Daphne's time under load
    (py-spy, bench/load.py). Writes and deletes still go to the database at once and drop
    this process's copy, so a login, a logout or a change made through this process shows
    at the next request; another web process sees a logout within the cache's seconds.
    """

    def load(self) -> dict[str, Any]:
        ttl = settings.KAFKAVIEW_SESSION_CACHE
        key = self.session_key
        if ttl > 0 and key:
            hit = _recent.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                # A copy: the request may change its session; the change is saved, not shared.
                return copy.deepcopy(hit[1])
        read_at = time.monotonic()
        data: dict[str, Any] = super().load()
        # An unknown or expired key is cleared by the read: nothing to keep then.
        if ttl > 0 and self.session_key:
            if len(_recent) >= _RECENT_MAX:
                _recent.clear()
            _recent[self.session_key] = (read_at, copy.deepcopy(data))
        return data

    def save(self, must_create: bool = False) -> None:
        super().save(must_create=must_create)
        if self.session_key:
            _recent.pop(self.session_key, None)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        super().delete(session_key)
        if key:
            _recent.pop(key, None)
