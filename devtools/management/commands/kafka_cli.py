"""Run one of Kafka's own CLI tools against a cluster, e.g. `kafka_cli consumer-groups --list`."""

import argparse
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.kafka.client.clients import cluster_config, clusters_all
from devtools.broker import CLI_TOOLS, BrokerStartError, cli_run


class Command(BaseCommand):
    help = "Run a Kafka CLI tool (" + ", ".join(CLI_TOOLS) + ") from the broker's classpath."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("tool", choices=sorted(CLI_TOOLS))
        parser.add_argument("--cluster", default=None)
        parser.add_argument("tool_args", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **opts: Any) -> None:
        tool_args = list(opts["tool_args"])
        if opts["tool"] != "storage" and "--bootstrap-server" not in tool_args:
            cluster = opts["cluster"] or clusters_all().default
            bootstrap = cluster_config(cluster=cluster).bootstrap_servers
            tool_args = ["--bootstrap-server", bootstrap, *tool_args]
        try:
            result = cli_run(
                tool=opts["tool"],
                args=tool_args,
                cache_dir=settings.KAFKAVIEW_CACHE_DIR,
                timeout=600,
            )
        except BrokerStartError as exc:
            raise CommandError(str(exc)) from None
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode:
            raise CommandError(f"{opts['tool']} exited with {result.returncode}")
