"""Run the local Apache Kafka broker in the foreground (Ctrl-C stops it)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.management.signals import sigterm_as_interrupt, wait_forever
from devtools.broker import (
    BrokerStartError,
    LocalBroker,
    default_cluster_port,
    jars_ensure,
    kafka_version,
)


class Command(BaseCommand):
    help = "Run a single-node KRaft Kafka broker on 127.0.0.1 from Maven Central jars."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--port", type=int, default=None, help="default: the local cluster's port (9092)"
        )
        parser.add_argument("--controller-port", type=int, default=None, help="default: port + 1")
        parser.add_argument("--data-dir", type=Path, default=None)
        parser.add_argument(
            "--fetch-only", action="store_true", help="fetch the jars with Maven, then exit"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            lib = jars_ensure(cache_dir=settings.KAFKAVIEW_CACHE_DIR, quiet=False)
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        if opts["fetch_only"]:
            self.stdout.write(f"Kafka {kafka_version()} jars in {lib}")
            return
        sigterm_as_interrupt()
        port = opts["port"] or default_cluster_port()
        broker = LocalBroker(
            data_dir=opts["data_dir"] or settings.KAFKAVIEW_CACHE_DIR / "kafka" / "data",
            cache_dir=settings.KAFKAVIEW_CACHE_DIR,
            port=port,
            controller_port=opts["controller_port"] or port + 1,
        )
        try:
            info = broker.start()
            self.stdout.write(
                f"Kafka {info.version} ready at {info.bootstrap_servers}"
                f" in {broker.started_in:.1f} s"
                f" (cluster id {info.cluster_id}, log {info.log_path}). Ctrl-C stops it."
            )
            wait_forever()
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            pass
        finally:
            broker.stop()
            self.stdout.write("broker stopped")
