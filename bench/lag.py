"""Group list with lag: kafkaview's JSON vs Kafka's `kafka-consumer-groups --describe --all-groups`.

    .venv/bin/python bench/lag.py [--groups 500] [--topics 10] [--partitions 50] [--runs 5]

Starts its own broker (or uses --bootstrap), creates the topics, produces to every
partition, commits offsets for every group (each group on one topic, all its
partitions), then times in one run: our /api/clusters/local/groups/ view with a
new AdminClient each time (cold: no client, no cache), the same with the shared
client (warm), and Kafka's CLI tool run as its script would run it.
"""

from __future__ import annotations

import argparse
import json
import os

# Every run reads Kafka: shared reads would answer runs after the first from memory.
os.environ["KAFKAVIEW_READ_MAX_AGE"] = "0"

from _common import (
    CACHE_DIR,
    broker_and_django,
    groups_with_commits,
    median,
    table,
    timed,
    view_request,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per partition")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument("--bootstrap", default=None, help="use this cluster, start no broker")
    args = parser.parse_args()

    with broker_and_django(bootstrap=args.bootstrap) as bootstrap:
        from confluent_kafka.admin import AdminClient

        from dashboard.browse import views
        from dashboard.kafka.client.clients import admin_clients_forget
        from devtools.broker import TARBALL_CLI_JVM_FLAGS, cli_run

        admin = AdminClient({"bootstrap.servers": bootstrap})
        tag, _, groups = groups_with_commits(
            bootstrap,
            groups=args.groups,
            topics=args.topics,
            partitions=args.partitions,
            messages=args.messages,
        )
        print(
            f"# {args.groups} groups x {args.partitions} partitions "
            f"({args.groups * args.partitions} committed offsets) on {args.topics} topics",
            flush=True,
        )

        def ours() -> dict:
            response = view_request(
                views.api_groups, "/api/clusters/local/groups/", cluster="local"
            )
            return json.loads(response.content)

        def ours_cold() -> dict:
            admin_clients_forget()
            return ours()

        cold_times, data = timed(ours_cold, args.runs)
        warm_times, _ = timed(ours, args.runs)
        bench_groups = [g for g in data["groups"] if g["group"].startswith(f"bench-group-{tag}-")]
        listed_now = {x.group_id for x in admin.list_consumer_groups().result().valid}
        ours_names = {g["group"] for g in bench_groups}
        print(
            f"# groups not listed: by Kafka {len(set(groups) - listed_now)},"
            f" by kafkaview {len(set(groups) - ours_names)}",
            flush=True,
        )

        def kafka_cli() -> str:
            result = cli_run(
                tool="consumer-groups",
                args=["--bootstrap-server", bootstrap, "--describe", "--all-groups"],
                cache_dir=CACHE_DIR,
                timeout=1800,
                jvm_flags=TARBALL_CLI_JVM_FLAGS,
            )
            assert result.returncode == 0, result.stderr[-2000:]
            return result.stdout

        cli_times, out = timed(kafka_cli, args.cli_runs)
        cli_lag = 0
        for line in out.splitlines():
            cols = line.split()
            if len(cols) >= 6 and cols[0].startswith(f"bench-group-{tag}") and cols[5] != "-":
                cli_lag += int(cols[5])
        ours_lag = sum(g["total_lag"] for g in bench_groups)

        cold, warm, cli = median(cold_times), median(warm_times), median(cli_times)
        print()
        print(
            table(
                ["what", "runs", "median s", "min s", "max s", "vs Kafka CLI"],
                [
                    [
                        "kafkaview group list JSON, cold (new client, no cache)",
                        args.runs,
                        f"{cold:.3f}",
                        f"{min(cold_times):.3f}",
                        f"{max(cold_times):.3f}",
                        f"{cli / cold:.1f}x faster",
                    ],
                    [
                        "kafkaview group list JSON, warm (shared client)",
                        args.runs,
                        f"{warm:.3f}",
                        f"{min(warm_times):.3f}",
                        f"{max(warm_times):.3f}",
                        f"{cli / warm:.1f}x faster",
                    ],
                    [
                        "kafka-consumer-groups --describe --all-groups",
                        args.cli_runs,
                        f"{cli:.3f}",
                        f"{min(cli_times):.3f}",
                        f"{max(cli_times):.3f}",
                        "1.0x",
                    ],
                ],
            )
        )
        print()
        print(
            f"groups listed by kafkaview: {len(bench_groups)} of {args.groups}; "
            f"total lag kafkaview {ours_lag} / Kafka CLI {cli_lag} "
            f"({'equal' if ours_lag == cli_lag else 'DIFFERENT'})"
        )
        print(
            "Kafka requests per cold read: 1 ListGroups + 1 DescribeGroups (all groups) + "
            f"{-(-args.groups // 500)} OffsetFetch (<= 500 groups each, per coordinator) + "
            "ListOffsets in calls of <= 1,000 partitions (batched per leader) + connection set-up"
        )


if __name__ == "__main__":
    main()
