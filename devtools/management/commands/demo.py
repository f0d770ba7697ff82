"""Replay Kafka's processing flow on a cluster: keyed producer and four consumer groups."""

from typing import Any

from django.core.management.base import BaseCommand

from dashboard.kafka.client.clients import client_config, clusters_all
from dashboard.management.signals import sigterm_as_interrupt, wait_forever
from devtools.demo import DEMO_GROUPS, DEMO_TOPIC, DemoTraffic


class Command(BaseCommand):
    help = f"Produce to {DEMO_TOPIC} and consume it with the demo groups until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--cluster", default=None, help="cluster name (default: the default)")
        parser.add_argument(
            "--rate", type=float, default=DemoTraffic.rate, help="messages per second"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        cluster = opts["cluster"] or clusters_all().default
        sigterm_as_interrupt()
        demo = DemoTraffic(conf=client_config(cluster=cluster), rate=opts["rate"])
        demo.start()
        self.stdout.write(
            f"demo traffic on {cluster}: topic {DEMO_TOPIC}, groups {', '.join(DEMO_GROUPS)}."
            " Ctrl-C stops it."
        )
        try:
            wait_forever()
        except KeyboardInterrupt:
            pass
        finally:
            demo.stop()
            self.stdout.write(f"demo stopped after {demo.produced} messages")
