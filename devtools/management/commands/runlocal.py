"""`make run`: migrate, an admin user, the local broker, demo traffic, the sampler and Daphne.

Ctrl-C stops them in the order that keeps the terminal quiet: Daphne and the sampler
first, then the demo's clients (they leave their groups while the broker still
answers), the broker last. Children run in their own sessions, so the terminal's
Ctrl-C reaches only this process, which stops them (devtools/processes.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.kafka.client.clients import client_config, clusters_all, clusters_configure
from dashboard.kafka.config import ClusterConfig, Clusters, RegistryConfig
from dashboard.management.signals import sigterm_as_interrupt
from devtools.broker import BrokerStartError, LocalBroker, default_cluster_port, port_open
from devtools.daphne import daphne_pool_start
from devtools.demo import AVRO_TOPIC, DEMO_GROUPS, DEMO_TOPIC, AvroDemo, DemoTraffic
from devtools.processes import child_start, children_stop
from devtools.registry import LocalRegistry, RegistryStartError

# Seconds Daphne and the sampler get to stop, and the broker after them.
CHILD_GRACE = 3.0
BROKER_GRACE = 4.0
# The sampler is restarted when it exits, at most this often.
SAMPLER_RESTART_SECONDS = 5.0


def admin_ensure(stdout: Any) -> None:
    """Create the `admin` superuser when no superuser exists; print its password once."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return
    given = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    password = given or secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=password)
    if given:
        stdout.write("Created superuser 'admin' with DJANGO_SUPERUSER_PASSWORD.")
    else:
        stdout.write(
            f"Created superuser 'admin' with password: {password}\n"
            "(shown once; change it in /admin/ or with `manage.py changepassword admin`)"
        )


class Command(BaseCommand):
    def _supervise(
        self,
        children: list[subprocess.Popen[bytes]],
        servers: list[subprocess.Popen[bytes]],
        sampler_command: list[str],
        env: dict[str, str],
    ) -> None:
        """Wait on Daphne; restart the sampler whenever it exits (a native crash included)."""
        started = time.monotonic()
        while True:
            for server in servers:
                if server.poll() is not None:
                    raise CommandError(f"Daphne exited with code {server.returncode}")
            sampler = children[0]
            if sampler.poll() is not None:
                # Not too fast: a sampler that dies at start would otherwise spin.
                time.sleep(max(0.0, SAMPLER_RESTART_SECONDS - (time.monotonic() - started)))
                self.stdout.write(
                    f"lag sampler exited with code {sampler.returncode}; restarting it"
                )
                children[0] = child_start(sampler_command, cwd=settings.BASE_DIR, env=env)
                started = time.monotonic()
            time.sleep(0.5)

    help = "Run kafkaview locally: broker (unless one is configured), demo traffic, Daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.KAFKAVIEW_HOST)
        parser.add_argument("--port", type=int, default=settings.KAFKAVIEW_PORT)
        parser.add_argument("--no-demo", action="store_true", help="start no demo traffic")
        parser.add_argument(
            "--kafka-port",
            type=int,
            default=None,
            help="run the local broker on this port (default: the local cluster's, 9092)",
        )
        parser.add_argument(
            "--controller-port",
            type=int,
            default=None,
            help="the local broker's KRaft controller port (default: the Kafka port + 1)",
        )
        parser.add_argument(
            "--data-dir", type=Path, default=None, help="the local broker's data folder"
        )

    def _registry(self, env: dict[str, str], clusters: Clusters) -> LocalRegistry | None:
        """Start a local Schema Registry for the local cluster; without Java 21, say so."""
        registry = LocalRegistry(
            cache_dir=settings.KAFKAVIEW_CACHE_DIR,
            port=8081 if not port_open("127.0.0.1", 8081) else None,
            log=settings.KAFKAVIEW_CACHE_DIR / "apicurio" / "registry.log",
        )
        self.stdout.write("starting the local Schema Registry (first run fetches it)...")
        try:
            url = registry.start()
        except RegistryStartError as exc:
            self.stdout.write(f"no Schema Registry: {exc}")
            return None
        env["KAFKAVIEW_SCHEMA_REGISTRY_URL"] = url
        local = clusters.by_name["local"]
        clusters_configure(
            clusters=Clusters(
                by_name={
                    **clusters.by_name,
                    "local": replace(local, schema_registry=RegistryConfig(url=url)),
                },
                default=clusters.default,
                source=clusters.source,
            ),
            request_timeout=settings.KAFKAVIEW_REQUEST_TIMEOUT,
        )
        self.stdout.write(f"Schema Registry (Apicurio) at {url}")
        return registry

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
        avro: AvroDemo | None = None
        registry: LocalRegistry | None = None
        metrics_dir: Path | None = None
        children: list[subprocess.Popen[bytes]] = []
        env = dict(os.environ)
        try:
            if not external:
                kafka_port = opts["kafka_port"] or default_cluster_port()
                broker = LocalBroker(
                    data_dir=opts["data_dir"] or settings.KAFKAVIEW_CACHE_DIR / "kafka" / "data",
                    cache_dir=settings.KAFKAVIEW_CACHE_DIR,
                    port=kafka_port,
                    controller_port=opts["controller_port"] or kafka_port + 1,
                )
                if kafka_port != default_cluster_port():
                    # This process and its children must all point at the chosen port.
                    env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
                    local = ClusterConfig(name="local", bootstrap_servers=broker.bootstrap_servers)
                    clusters = Clusters(
                        by_name={"local": local}, default="local", source="environment"
                    )
                    clusters_configure(
                        clusters=clusters, request_timeout=settings.KAFKAVIEW_REQUEST_TIMEOUT
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
                if not os.environ.get("KAFKAVIEW_SCHEMA_REGISTRY_URL", "").strip():
                    registry = self._registry(env, clusters)
                if registry is not None and not opts["no_demo"]:
                    avro = AvroDemo(conf=client_config(cluster="local"), registry_url=registry.url)
                    avro.start()
                    self.stdout.write(f"demo traffic: Avro topic {AVRO_TOPIC}")
            else:
                self.stdout.write(
                    f"using the configured cluster(s) ({clusters.source}); no local broker"
                )
            # One sampler per deployment: lag history, status, events and /metrics.
            sampler_command = [sys.executable, "manage.py", "lag_sampler"]
            children.append(child_start(sampler_command, cwd=settings.BASE_DIR, env=env))
            self.stdout.write(
                f"lag sampler: every {settings.KAFKAVIEW_SAMPLE_INTERVAL:g} s into the database"
            )
            processes = settings.KAFKAVIEW_WEB_PROCESSES
            web_env = env
            if processes > 1:
                # Each process counts its Kafka requests in a file here; a scrape of
                # /metrics (reaching any one of them) adds them all up.
                metrics_dir = Path(tempfile.mkdtemp(prefix="kafkaview-metrics-"))
                web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            servers = daphne_pool_start(
                host=opts["host"],
                port=opts["port"],
                processes=processes,
                cwd=settings.BASE_DIR,
                env=web_env,
            )
            children.extend(servers)
            if processes > 1:
                self.stdout.write(f"{processes} web processes on one port")
            self.stdout.write(
                f"kafkaview at http://{opts['host']}:{opts['port']}/ (Ctrl-C stops everything)"
            )
            self._supervise(children, servers, sampler_command, env)
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            self.stdout.write("stopping...")
        finally:
            began = time.monotonic()
            # Clients of the broker first, the broker last.
            children_stop(children, grace=CHILD_GRACE)
            if demo is not None:
                demo.stop(timeout=CHILD_GRACE)
            if avro is not None:
                avro.stop(timeout=CHILD_GRACE)
            if registry is not None:
                registry.stop(timeout=CHILD_GRACE)
            if broker is not None:
                broker.stop(timeout=BROKER_GRACE)
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
            self.stdout.write(f"stopped in {time.monotonic() - began:.1f} s")
