"""The sampler's lease on the database, on a stepped clock: no test waits for time to pass."""

from __future__ import annotations

import pytest

from dashboard.lag.lease import (
    lease_acquire,
    lease_after_round,
    lease_release,
    lease_state,
    lease_times,
)
from tests.helpers import SteppedClock

pytestmark = pytest.mark.django_db

INTERVAL = 2.0


def test_a_held_lease_is_renewed_by_its_holder_and_refused_to_another() -> None:
    clock = SteppedClock()
    ttl, _ = lease_times(INTERVAL)
    assert lease_acquire(holder="a", ttl=ttl, now=clock())
    clock.advance(ttl - 0.01)
    assert not lease_acquire(holder="b", ttl=ttl, now=clock())
    assert lease_acquire(holder="a", ttl=ttl, now=clock())  # renewed: a keeps it
    clock.advance(ttl)  # exactly at its end: not yet free
    assert not lease_acquire(holder="b", ttl=ttl, now=clock())
    clock.advance(0.01)
    assert lease_acquire(holder="b", ttl=ttl, now=clock())
    assert not lease_acquire(holder="a", ttl=ttl, now=clock())  # a lost it for good
    lease = lease_state()
    assert lease is not None and lease.holder == "b" and lease.acquired_at == clock()


def test_a_released_lease_is_free_for_the_next_look() -> None:
    clock = SteppedClock()
    assert lease_acquire(holder="a", ttl=60, now=clock())
    clock.advance(1)
    lease_release(holder="a", now=clock())
    assert not lease_acquire(holder="b", ttl=60, now=clock())  # the same instant: not yet
    clock.advance(0.001)
    assert lease_acquire(holder="b", ttl=60, now=clock())


def test_lease_release_by_another_changes_nothing() -> None:
    clock = SteppedClock()
    assert lease_acquire(holder="a", ttl=60, now=clock())
    lease_release(holder="b", now=clock())
    clock.advance(1)
    assert not lease_acquire(holder="b", ttl=60, now=clock())


@pytest.mark.parametrize("took", [0.0, 0.5, 1.9, 2.0, 3.5])
@pytest.mark.parametrize("phase", [0.0, 0.13, 0.37])
def test_a_standby_takes_over_within_one_and_a_half_intervals_of_the_last_round(
    took: float, phase: float
) -> None:
    # The schedule lag_sampler keeps: renew at a round's start (ttl) and at its end
    # (lease_after_round); the standby looks every `poll` seconds from its own phase.
    clock = SteppedClock()
    ttl, poll = lease_times(INTERVAL)
    last_start = clock()
    assert lease_acquire(holder="active", ttl=ttl, now=last_start)
    clock.advance(took)
    assert lease_acquire(holder="active", ttl=lease_after_round(INTERVAL, took), now=clock())
    # ...and then the active one dies. The standby keeps looking.
    clock.now = last_start
    clock.advance(phase)
    while not lease_acquire(holder="standby", ttl=ttl, now=clock()):
        clock.advance(poll)
    waited = (clock() - last_start).total_seconds()
    # The last renewal lasts until max(start + ttl, end + 0.2 intervals): a round longer
    # than the interval delays the hand-over by its own overrun, never more.
    bound = max(1.2 * INTERVAL, took + 0.2 * INTERVAL) + poll
    assert waited <= bound + 0.001, (waited, bound)
    assert waited > max(1.2 * INTERVAL, took + 0.2 * INTERVAL) - 0.001  # never early
