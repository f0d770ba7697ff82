"""One sampler per deployment: a lease in the database, renewed every round.

Two `lag_sampler` processes on one database: the one holding the lease samples, the
other waits and takes over once the lease has expired (it is renewed at each round's
start and end, to just past the next start; looked at every quarter interval: within
two intervals of the holder's last round).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.lag.models import SamplerLease

LEASE_NAME = "lag_sampler"


def lease_holder_id() -> str:
    """This process, as the dashboard names it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_times(interval: float) -> tuple[float, float]:
    """(ttl at a round's start, how often a standby looks) for rounds `interval` apart.

    Renewed at each round's start for 1.2 intervals and at its end until 0.2 intervals
    past the next start (lease_after_round); a standby looking every quarter interval then
    takes over within 1.45 intervals of the holder's last round start.
    """
    return 1.2 * interval, interval / 4


def lease_after_round(interval: float, took: float) -> float:
    """The ttl renewed after a round that took `took` s: until just past the next start."""
    return max(interval - took, 0.0) + 0.2 * interval


def lease_acquire(*, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Renew our lease, or take it over if it has expired; False: another process holds it."""
    now = now or timezone.now()
    until = now + timedelta(seconds=ttl)
    if not SamplerLease.objects.filter(name=LEASE_NAME).exists():
        try:
            with transaction.atomic():
                SamplerLease.objects.create(
                    name=LEASE_NAME,
                    holder="",
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now - timedelta(seconds=1),  # free from the start
                )
        except IntegrityError:
            pass  # another process made it first
    # Each UPDATE is atomic on SQLite and PostgreSQL: only one process can match it.
    mine = SamplerLease.objects.filter(name=LEASE_NAME, holder=holder, expires_at__gte=now)
    if mine.update(renewed_at=now, expires_at=until):
        return True
    free = SamplerLease.objects.filter(name=LEASE_NAME, expires_at__lt=now)
    return bool(free.update(holder=holder, acquired_at=now, renewed_at=now, expires_at=until))


def lease_release(*, holder: str, now: datetime | None = None) -> None:
    """Give the lease up (a clean stop): the other process may take it at once."""
    now = now or timezone.now()
    SamplerLease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=now)


def lease_state() -> SamplerLease | None:
    """The lease as it stands (who samples, since when, until when)."""
    return SamplerLease.objects.filter(name=LEASE_NAME).first()
