"""`make run`: migrate, an admin user, the local broker, demo traffic and Daphne, until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dashboard.kafka.clusters import client_config, clusters_all
from dashboard.kafka.demo import DEMO_GROUPS, DEMO_TOPIC, DemoTraffic
from dashboard.kafka.errors import BrokerStartError
from dashboard.kafka.local import CACHE_DIR, LocalBroker, die_with_parent
from dashboard.management.commands._signals import sigterm_as_interrupt


def admin_ensure(stdout: Any) -> None:
    """Create the `admin` superuser when no superuser exists; print its password once."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=password)
    if os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
        stdout.write("Created superuser 'admin' with DJANGO_SUPERUSER_PASSWORD.")
    else:
        stdout.write(
            f"Created superuser 'admin' with password: {password}\n"
            "(shown once; change it in /admin/ or with `manage.py changepassword admin`)"
        )


class Command(BaseCommand):
    help = "Run kafkaview locally: broker (unless one is configured), demo traffic, Daphne."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("KAFKAVIEW_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("KAFKAVIEW_PORT", "8000"))
        )
        parser.add_argument("--no-demo", action="store_true", help="start no demo traffic")

    def handle(self, *args: Any, **opts: Any) -> None:
        sigterm_as_interrupt()
        call_command("migrate", interactive=False, verbosity=0)
        admin_ensure(self.stdout)
        clusters = clusters_all()
        external = clusters.source != "environment" or bool(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        )
        broker: LocalBroker | None = None
        demo: DemoTraffic | None = None
        server: subprocess.Popen[bytes] | None = None
        sampler: subprocess.Popen[bytes] | None = None
        try:
            if not external:
                _, _, port = clusters.by_name[clusters.default].bootstrap_servers.rpartition(":")
                broker = LocalBroker(
                    data_dir=CACHE_DIR / "kafka" / "data",
                    port=int(port),
                    controller_port=int(port) + 1,
                )
                self.stdout.write("starting the local Kafka broker (first run fetches its jars)...")
                info = broker.start()
                self.stdout.write(
                    f"Kafka {info.version} ready at {info.bootstrap_servers} in "
                    f"{broker.started_in:.1f} s; log: {info.log_path}"
                )
                if not opts["no_demo"]:
                    demo = DemoTraffic(conf=client_config(cluster=clusters.default))
                    demo.start()
                    self.stdout.write(
                        f"demo traffic: topic {DEMO_TOPIC}, groups {', '.join(DEMO_GROUPS)}"
                    )
            else:
                self.stdout.write(
                    f"using the configured cluster(s) ({clusters.source}); no local broker"
                )
            # One sampler per deployment: lag history, status, events and /metrics.
            sampler = subprocess.Popen(
                [sys.executable, "manage.py", "lag_sampler"],
                cwd=settings.BASE_DIR,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - the sampler dies with us
            )
            self.stdout.write(
                f"lag sampler: every {settings.KAFKAVIEW_SAMPLE_INTERVAL:g} s into the database"
            )
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    opts["host"],
                    "-p",
                    str(opts["port"]),
                    "kafkaview.asgi:application",
                ],
                cwd=settings.BASE_DIR,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - the server dies with us
            )
            self.stdout.write(
                f"kafkaview at http://{opts['host']}:{opts['port']}/ (Ctrl-C stops everything)"
            )
            server.wait()
            raise CommandError(f"Daphne exited with code {server.returncode}")
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            self.stdout.write("stopping...")
        finally:
            for child in (server, sampler):
                if child is not None and child.poll() is None:
                    child.terminate()
                    child.wait(timeout=10)
            if demo is not None:
                demo.stop()
            if broker is not None:
                broker.stop()
            self.stdout.write("stopped")
