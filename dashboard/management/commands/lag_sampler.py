"""`manage.py lag_sampler`: sample every cluster's groups every N seconds into the database."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand

from dashboard.kafka.clusters import clusters_all
from dashboard.lag.conf import sample_interval
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
        samplers = [Sampler(cluster=name, interval=interval) for name in names]
        for sampler in samplers:
            sampler.start()
        self.stdout.write(f"sampling {', '.join(names)} every {interval:g} s")
        done = 0
        try:
            while True:
                started = time.monotonic()
                for sampler in samplers:
                    result = sampler.round()
                    log.debug(
                        "%s: %s, %d samples, %d events",
                        result.cluster,
                        "ok" if result.ok else f"unavailable ({result.error})",
                        result.samples,
                        result.events,
                    )
                done += 1
                if opts["rounds"] and done >= opts["rounds"]:
                    break
                time.sleep(max(interval - (time.monotonic() - started), 0.0))
        except KeyboardInterrupt:
            pass
        finally:
            for sampler in samplers:
                sampler.stop()
