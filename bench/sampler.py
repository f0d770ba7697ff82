"""The lag sampler's storage and speed: bytes per partition sample with every offset moving.

    .venv/bin/python bench/sampler.py [--groups 40] [--topics 40] [--partitions 25]
                                      [--rounds 30] [--interval 1]

Starts its own broker (or uses --bootstrap) and a fresh SQLite database, creates the
groups (group i commits on every partition of topic i mod topics), then runs sampler
rounds one interval apart while producing to every partition and moving every group's
committed offsets between rounds. Prints the database size per partition sample (from
a fresh database, as `lag_sampler --rounds N` would leave it, and the growth after the
first round), the bytes of a folded tier point, what that means for 25,000 partitions
at the default 10 s interval, and the round, /metrics, history and group-list times.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from _common import broker_and_django, groups_with_commits, median, table, timed, view_request

PARTITIONS_AT_SCALE = 25_000
ROUNDS_A_DAY = 8_640  # at the default 10 s interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--topics", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=25)
    parser.add_argument("--messages", type=int, default=20, help="per partition at first")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--bootstrap", default=None, help="use this cluster, start no broker")
    args = parser.parse_args()
    db = os.path.join(tempfile.mkdtemp(prefix="kafkaview-bench-db-"), "bench.sqlite3")
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"

    with broker_and_django(bootstrap=args.bootstrap) as bootstrap:
        from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
        from confluent_kafka.admin import AdminClient

        from dashboard.browse import views
        from dashboard.lag import store
        from dashboard.lag import views as lag_views
        from dashboard.lag.conf import Tier, raw_keep, tiers
        from dashboard.lag.models import HistoryChunk
        from dashboard.lag.sampler import Sampler

        _, names, groups = groups_with_commits(
            bootstrap,
            groups=args.groups,
            topics=args.topics,
            partitions=args.partitions,
            messages=args.messages,
        )
        print(
            f"# {args.groups} groups x {args.partitions} partitions "
            f"({args.groups * args.partitions} committed offsets), every offset moving",
            flush=True,
        )
        admin = AdminClient({"bootstrap.servers": bootstrap})
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        ends = {(t, p): args.messages for t in names for p in range(args.partitions)}
        committed = {
            (g, p): random.randint(0, args.messages) for g in groups for p in range(args.partitions)
        }

        def move() -> None:
            """Produce a few records to every partition and move every group forward."""
            for t in names:
                for p in range(args.partitions):
                    n = random.randint(1, 30)
                    for _ in range(n):
                        producer.produce(t, value=b"x" * 20, partition=p)
                    ends[(t, p)] += n
                producer.poll(0)
            producer.flush(60)
            futures = []
            for i, g in enumerate(groups):
                topic = names[i % len(names)]
                parts = []
                for p in range(args.partitions):
                    step = random.randint(1, 30)
                    committed[(g, p)] = min(committed[(g, p)] + step, ends[(topic, p)])
                    parts.append(TopicPartition(topic, p, committed[(g, p)]))
                futures.append(
                    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(g, parts)])
                )
            for fs in futures:
                for f in fs.values():
                    f.result(timeout=60)

        empty = os.path.getsize(db)  # migrated, no history yet
        sampler = Sampler(cluster="local", interval=args.interval)
        started = time.perf_counter()
        sampler.start()
        catch_up = time.perf_counter() - started
        round_times, samples = [], 0
        sizes = []
        for i in range(args.rounds):
            began = time.monotonic()
            t = time.perf_counter()
            result = sampler.round()
            round_times.append(time.perf_counter() - t)
            samples += result.samples
            sizes.append((os.path.getsize(db), samples))
            if i < args.rounds - 1:
                move()
                time.sleep(max(0.0, args.interval - (time.monotonic() - began)))
        sampler.stop()
        per_round = samples / args.rounds
        fresh = os.path.getsize(db)
        total_b = (fresh - empty) / samples
        growth_b = (sizes[-1][0] - sizes[0][0]) / max(samples - sizes[0][1], 1)
        payload = sum(len(bytes(d)) for d in HistoryChunk.objects.values_list("data", flat=True))
        payload_b = payload / samples

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
        import sqlite3

        with sqlite3.connect(db) as conn:
            page = conn.execute("pragma page_size").fetchone()[0]
            free_kb = conn.execute("pragma freelist_count").fetchone()[0] * page / 1024
        # A folded tier point: fold what was sampled into buckets of 5 rounds, then measure.
        bucket = Tier(1, max(round(args.interval * 5), 1), timedelta(days=7))
        later = datetime.now(UTC) + timedelta(days=1)
        store.fold(cluster="local", now=later, raw=timedelta(hours=1), tiers=[bucket])
        tier_rows = HistoryChunk.objects.filter(cluster="local", tier=1, kind="group")
        points = sum(
            len(
                store.group_history_rounds(
                    cluster="local", group=g, since=later - timedelta(2), tier=1
                )
            )
            for g in groups
        )
        tier_bytes = sum(len(bytes(d)) for d in tier_rows.values_list("data", flat=True))
        tier_b = tier_bytes / max(points * args.partitions, 1)

        raw_rounds = raw_keep().total_seconds() / 10
        tier_points = sum(t.keep.total_seconds() / t.bucket for t in tiers())
        day = total_b * PARTITIONS_AT_SCALE * ROUNDS_A_DAY
        steady = PARTITIONS_AT_SCALE * (growth_b * raw_rounds + tier_b * tier_points)

        rows = [
            ["commit reader start-up (read __consumer_offsets)", f"{catch_up:.2f} s", ""],
            [f"sampler round, median of {args.rounds}", f"{median(round_times):.3f} s", ""],
            ["sampler round, slowest", f"{max(round_times):.3f} s", ""],
            ["partition samples per round", f"{per_round:,.0f}", f"{samples:,} in all"],
            [
                "database growth / partition samples",
                f"{total_b:.2f} B",
                f"from a migrated empty database ({empty / 1e3:.0f} KB) to {fresh / 1e3:.0f} KB "
                f"after {args.rounds} rounds, {free_kb:.0f} KB of it free pages; target <= 8 B",
            ],
            [
                "growth after the first round / samples",
                f"{growth_b:.2f} B",
                "what each further round costs",
            ],
            ["chunk payload / samples", f"{payload_b:.2f} B", "the encoded values alone"],
            [
                "folded tier point / partition",
                f"{tier_b:.2f} B",
                f"{points:,} points of {bucket.bucket:.0f} s buckets",
            ],
            [
                f"{PARTITIONS_AT_SCALE:,} partitions at 10 s, a day of raw samples",
                f"{day / 1e9:.2f} GB",
                "at that rate, before folding",
            ],
            [
                f"{PARTITIONS_AT_SCALE:,} partitions, steady state with the tiers",
                f"{steady / 1e9:.2f} GB",
                f"raw {raw_keep()}, tiers "
                + ", ".join(f"{t.bucket:.0f} s for {t.keep.days} d" for t in tiers()),
            ],
            [
                "/metrics scrape, median of 5",
                f"{median(metrics_times):.3f} s",
                f"{len(response.content) / 1e6:.2f} MB of text",
            ],
            ["one group's history JSON (1 h), median of 5", f"{median(history_times):.3f} s", ""],
            ["group list JSON with statuses, median of 3", f"{median(list_times):.3f} s", ""],
        ]
        print()
        print(table(["measure", "value", "note"], rows))


if __name__ == "__main__":
    main()
