"""Database sessions, and the user they log in, kept in this web process for a moment."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

# What ages kept reads: time.monotonic, or a test's stepped clock (session_clock).
_clock: Callable[[], float] = time.monotonic


def session_clock(clock: Callable[[], float] = time.monotonic) -> None:
    """The monotonic seconds that age kept session and user reads (tests step their own)."""
    global _clock  # noqa: PLW0603 - one clock per process
    _clock = clock


class _Kept:
    """Reads kept for KAFKAVIEW_SESSION_CACHE seconds, each handed out as a copy.

    Bounded: cleared when it grows past `most` (a real site has far fewer sessions
    active within a few seconds).
    """

    def __init__(self, copier: Callable[[Any], Any], most: int = 10_000) -> None:
        self._reads: dict[Hashable, tuple[float, Any]] = {}
        self._copier = copier
        self._most = most

    def get(self, key: Hashable) -> Any | None:
        hit = self._reads.get(key)
        if hit is None or _clock() - hit[0] >= settings.KAFKAVIEW_SESSION_CACHE:
            return None
        return self._copier(hit[1])

    def put(self, key: Hashable, value: Any, *, read_at: float) -> None:
        if len(self._reads) >= self._most:
            self._reads.clear()
        self._reads[key] = (read_at, self._copier(value))

    def forget(self, key: Hashable | None = None) -> None:
        if key is None:
            self._reads.clear()
        else:
            self._reads.pop(key, None)


# What Django's permission checks cache on a user object: never carried to another request.
_PER_REQUEST = ("_perm_cache", "_user_perm_cache", "_group_perm_cache")


def _user_copy(user: Any) -> Any:
    fresh = copy.copy(user)
    for name in _PER_REQUEST:
        fresh.__dict__.pop(name, None)
    return fresh


# A request may change its session (the change is saved, not shared): deep copies.
_recent = _Kept(copy.deepcopy)  # session key -> decoded data
_users = _Kept(_user_copy)  # (session key, user id, password hash in the session) -> user


def forget_all() -> None:
    """Drop every kept session and user read (tests; a user changed in this process)."""
    _recent.forget()
    _users.forget()


class SessionStore(DatabaseSessionStore):
    """Django's database sessions, but a read is reused for KAFKAVIEW_SESSION_CACHE seconds.

    Reading the session row on every request was ~12 % of Daphne's time under load
    (py-spy, bench/load.py). Writes and deletes still go to the database at once and drop
    this process's copy, so a login, a logout or a change made through this process shows
    at the next request; another web process sees a logout within the cache's seconds.
    """

    def load(self) -> dict[str, Any]:
        keep = settings.KAFKAVIEW_SESSION_CACHE > 0
        if keep and self.session_key:
            kept: dict[str, Any] | None = _recent.get(self.session_key)
            if kept is not None:
                return kept
        read_at = _clock()
        data: dict[str, Any] = super().load()
        # An unknown or expired key is cleared by the read: nothing to keep then.
        if keep and self.session_key:
            _recent.put(self.session_key, data, read_at=read_at)
        return data

    def save(self, must_create: bool = False) -> None:
        super().save(must_create=must_create)
        if self.session_key:
            _recent.forget(self.session_key)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        super().delete(session_key)
        if key:
            _recent.forget(key)


def user_kept(request: HttpRequest) -> Any:
    """request's user, as Django's get_user reads it, reused for KAFKAVIEW_SESSION_CACHE s.

    Keyed by the session and the password hash it holds, so a new login or a changed
    password reads the database again; a user saved through this process drops them all.
    """
    session = request.session
    key = (
        session.session_key or "",
        str(session.get(auth.SESSION_KEY, "")),
        str(session.get(auth.HASH_SESSION_KEY, "")),
    )
    keep = settings.KAFKAVIEW_SESSION_CACHE > 0 and all(key)
    if keep:
        kept = _users.get(key)
        if kept is not None:
            return kept
    read_at = _clock()
    user = auth.get_user(request)
    if keep and user.is_authenticated:
        _users.put(key, user, read_at=read_at)
    return user


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, with request.user read through user_kept (~9 % of Daphne's time under load)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _request_user(request))  # type: ignore[assignment]


def _request_user(request: HttpRequest) -> Any:
    cached = getattr(request, "_cached_user", None)
    if cached is None:
        cached = user_kept(request)
        request._cached_user = cached  # type: ignore[attr-defined]
    return cached


def user_saved(**kwargs: Any) -> None:
    """A user saved or deleted through this process: read users from the database again."""
    _users.forget()
