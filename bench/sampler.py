"""The lag sampler at scale: round time, rows written, and reading the history back.

    .venv/bin/python bench/sampler.py [--groups 500] [--topics 10] [--partitions 50] [--rounds 6]

Starts its own broker (or uses --bootstrap) and a throw-away SQLite database,
creates the groups as bench/lag.py does (500 groups x 50 partitions = 25,000
committed offsets), then times sampler rounds (read the cluster, judge every
partition, write the rows), a /metrics scrape, one group's history JSON and the
group list page's status join. A round must fit well inside the default 10 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import broker_and_django, groups_with_commits, median, table, timed, view_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per partition")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--bootstrap", default=None, help="use this cluster, start no broker")
    args = parser.parse_args()
    db = os.path.join(tempfile.mkdtemp(prefix="kafkaview-bench-db-"), "bench.sqlite3")
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"

    with broker_and_django(bootstrap=args.bootstrap) as bootstrap:
        from django.core.management import call_command

        from dashboard.browse import views
        from dashboard.lag import views as lag_views
        from dashboard.lag.models import LagSample, OffsetPoint
        from dashboard.lag.sampler import Sampler

        call_command("migrate", verbosity=0)
        _, _, groups = groups_with_commits(
            bootstrap,
            groups=args.groups,
            topics=args.topics,
            partitions=args.partitions,
            messages=args.messages,
        )
        print(
            f"# {args.groups} groups x {args.partitions} partitions "
            f"({args.groups * args.partitions} committed offsets)",
            flush=True,
        )
        sampler = Sampler(cluster="local", interval=10.0)
        started = time.perf_counter()
        sampler.start()
        catch_up = time.perf_counter() - started
        sampler.round()  # the first round also records every group's first-seen event
        before = os.path.getsize(db)
        round_times, result = timed(sampler.round, args.rounds)
        growth = (os.path.getsize(db) - before) / args.rounds
        sampler.stop()
        samples_per_round = result.samples
        size_mb = os.path.getsize(db) / 1e6
        metrics_times, response = timed(lambda: view_request(lag_views.metrics, "/metrics"), 5)
        history_times, _ = timed(
            lambda: view_request(
                lag_views.api_group_history,
                f"/api/clusters/local/groups/{groups[0]}/history/",
                cluster="local",
                group=groups[0],
            ),
            5,
        )
        list_times, _ = timed(
            lambda: view_request(views.api_groups, "/api/clusters/local/groups/", cluster="local"),
            3,
        )
        rows = [
            ["commit reader start-up (read __consumer_offsets)", f"{catch_up:.2f} s", ""],
            [
                f"sampler round, median of {args.rounds}",
                f"{median(round_times):.2f} s",
                "well under the 10 s interval",
            ],
            ["sampler round, slowest", f"{max(round_times):.2f} s", ""],
            [
                "partition samples per round",
                f"{samples_per_round:,}",
                "one LagSample row per group",
            ],
            ["LagSample rows stored", f"{LagSample.objects.count():,}", ""],
            ["OffsetPoint rows stored (only when moved)", f"{OffsetPoint.objects.count():,}", ""],
            ["SQLite file after the rounds", f"{size_mb:.1f} MB", ""],
            [
                "database growth per round",
                f"{growth / 1e6:.2f} MB",
                f"{growth / max(samples_per_round, 1):.0f} B per partition sample; "
                f"{growth * 8640 / 1e9:.1f} GB a day at 10 s",
            ],
            [
                "/metrics scrape, median of 5",
                f"{median(metrics_times):.2f} s",
                f"{len(response.content) / 1e6:.1f} MB of text",
            ],
            ["one group's history JSON (1 h), median of 5", f"{median(history_times):.3f} s", ""],
            ["group list JSON with statuses, median of 3", f"{median(list_times):.2f} s", ""],
        ]
        print()
        print(table(["measure", "value", "note"], rows))


if __name__ == "__main__":
    main()
