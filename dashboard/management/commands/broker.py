"""Run the local Apache Kafka broker in the foreground (Ctrl-C stops it)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dashboard.kafka.errors import BrokerStartError
from dashboard.kafka.local import CACHE_DIR, LocalBroker, jars_ensure, kafka_version
from dashboard.management.commands._signals import sigterm_as_interrupt, wait_forever


class Command(BaseCommand):
    help = "Run a single-node KRaft Kafka broker on 127.0.0.1 from Maven Central jars."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=9092)
        parser.add_argument("--controller-port", type=int, default=9093)
        parser.add_argument("--data-dir", type=Path, default=CACHE_DIR / "kafka" / "data")
        parser.add_argument(
            "--fetch-only", action="store_true", help="fetch the jars with Maven, then exit"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            lib = jars_ensure(quiet=False)
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        if opts["fetch_only"]:
            self.stdout.write(f"Kafka {kafka_version()} jars in {lib}")
            return
        sigterm_as_interrupt()
        broker = LocalBroker(
            data_dir=opts["data_dir"], port=opts["port"], controller_port=opts["controller_port"]
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
