"""`manage.py lag_sampler`: sample every cluster's groups every N seconds into the database."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from dashboard.alerts.deliver import Dispatcher
from dashboard.alerts.service import alerts_after_round, alerts_stale
from dashboard.kafka.client.clients import clusters_all
from dashboard.kafka.groups.commitlog import CommitWatcher
from dashboard.lag.conf import sample_interval
from dashboard.lag.lease import (
    lease_acquire,
    lease_after_round,
    lease_holder_id,
    lease_release,
    lease_state,
    lease_times,
)
from dashboard.lag.sampler import Sampler
from dashboard.management.signals import sigterm_as_interrupt

log = logging.getLogger("kafkaview.sampler")


class Command(BaseCommand):
    help = (
        "Record lag, commit times, end offsets and members of every cluster (one per deployment)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds")
        parser.add_argument("--cluster", action="append", help="only these clusters (repeatable)")
        parser.add_argument("--rounds", type=int, default=0, help="stop after N rounds (0: never)")

    def handle(self, *args: Any, **opts: Any) -> None:
        sigterm_as_interrupt()
        interval = opts["interval"] or sample_interval()
        names = opts["cluster"] or list(clusters_all().by_name)
        holder = lease_holder_id()
        # Within 1.45 intervals of the holder's last round start, a standby takes over.
        ttl, poll = lease_times(interval)
        samplers: list[Sampler] | None = None
        # The commit readers run from the start, standing by too: a takeover then only
        # reloads the recent windows instead of reading __consumer_offsets from its start.
        watchers = {name: CommitWatcher(cluster=name) for name in names}
        for watcher in watchers.values():
            watcher.start()
        # Notifications go from their own thread, only while this process holds the lease:
        # a receiver that hangs never delays a round, and one process sends.
        holding = {"now": False}
        dispatcher = Dispatcher(
            may_send=lambda: holding["now"],
            now=timezone.now,
            beside=lambda: alerts_stale(now=timezone.now(), clusters=names),
        )
        dispatcher.start()
        self.stdout.write(f"sampling {', '.join(names)} every {interval:g} s")
        done, waiting_said = 0, False
        try:
            while True:
                started = time.monotonic()
                holding["now"] = lease_acquire(holder=holder, ttl=ttl)
                if not holding["now"]:
                    if samplers is not None:
                        log.warning("%s: the lease was taken over; standing by", holder)
                        samplers = None  # their commit readers go on, for a takeover
                    if not waiting_said:
                        lease = lease_state()
                        self.stdout.write(
                            f"standby: {lease.holder if lease else 'another process'} samples"
                        )
                        waiting_said = True
                    time.sleep(poll)
                    continue
                if samplers is None:
                    # Taking over: windows and offset points come back from the database.
                    samplers = [
                        Sampler(cluster=name, interval=interval, watcher=watchers[name])
                        for name in names
                    ]
                    for sampler in samplers:
                        sampler.start()
                    # Starting reads __consumer_offsets from its start, which can take a
                    # while: renew before the first round so the lease cannot lapse.
                    lease_acquire(holder=holder, ttl=ttl)
                    started = time.monotonic()  # an interval between rounds, not from start-up
                    if waiting_said:
                        self.stdout.write(f"took over the lease as {holder}")
                    waiting_said = False
                for sampler in samplers:
                    result = sampler.round()
                    try:
                        alerts_after_round(result)
                    except Exception:  # alerts must never stop the sampling
                        log.exception("judging the alert rules of %s failed", result.cluster)
                    log.debug(
                        "%s: %s, %d samples, %d events",
                        result.cluster,
                        "ok" if result.ok else f"unavailable ({result.error})",
                        result.samples,
                        result.events,
                    )
                # Renewed after the round too, until just past the next round's start (where
                # it is renewed again): a standby's wait after a death then does not grow with
                # the time the last round took.
                took = time.monotonic() - started
                lease_acquire(holder=holder, ttl=lease_after_round(interval, took))
                done += 1
                if opts["rounds"] and done >= opts["rounds"]:
                    break
                time.sleep(max(interval - (time.monotonic() - started), 0.0))
        except KeyboardInterrupt:
            pass
        finally:
            holding["now"] = False
            dispatcher.stop()
            for sampler in samplers or ():
                sampler.stop()
            for watcher in watchers.values():
                watcher.stop()
            lease_release(holder=holder)
