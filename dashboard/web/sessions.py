"""Database sessions, and the user they log in, kept in this web process for a moment."""

from __future__ import annotations

import copy
import time
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

# session key -> (monotonic time read, decoded data). Bounded: cleared when it grows past
# this (a real site has far fewer sessions active within a few seconds).
_recent: dict[str, tuple[float, dict[str, Any]]] = {}
_RECENT_MAX = 10_000


# (session key, user id, password hash in the session) -> (monotonic time read, user)
_users: dict[tuple[str, str, str], tuple[float, Any]] = {}
# What Django's permission checks cache on a user object: never carried to another request.
_PER_REQUEST = ("_perm_cache", "_user_perm_cache", "_group_perm_cache")


def forget_all() -> None:
    """Drop every kept session and user read (tests; a user changed in this process)."""
    _recent.clear()
    _users.clear()


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


def user_kept(request: HttpRequest) -> Any:
    """request's user, as Django's get_user reads it, reused for KAFKAVIEW_SESSION_CACHE s.

    Keyed by the session and the password hash it holds, so a new login or a changed
    password reads the database again; a user saved through this process drops them all.
    """
    ttl = settings.KAFKAVIEW_SESSION_CACHE
    session = request.session
    key = (
        session.session_key or "",
        str(session.get(auth.SESSION_KEY, "")),
        str(session.get(auth.HASH_SESSION_KEY, "")),
    )
    if ttl > 0 and all(key):
        hit = _users.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            user = copy.copy(hit[1])
            for name in _PER_REQUEST:
                user.__dict__.pop(name, None)
            return user
    read_at = time.monotonic()
    user = auth.get_user(request)
    if ttl > 0 and all(key) and user.is_authenticated:
        if len(_users) >= _RECENT_MAX:
            _users.clear()
        kept = copy.copy(user)
        for name in _PER_REQUEST:
            kept.__dict__.pop(name, None)
        _users[key] = (read_at, kept)
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
    _users.clear()
