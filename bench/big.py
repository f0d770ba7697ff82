"""The cluster that freezes other UIs: 9,000 topics x 4, 10,000 groups, on three brokers.

    .venv/bin/python bench/big.py [--brokers 3] [--topics 9000] [--partitions 4]
                                  [--groups 10000] [--members 60] [--runs 5] [--cli]

One broker process holds at most ~20,000 open files here (`ulimit -Hn`; one per
partition's active segment, plus sockets), so the 36,000 partitions need three brokers:
devtools' LocalCluster starts a KRaft controller and three brokers on free ports. The
build takes minutes: topics created 500 a request, a record batch on every partition
from one producer, every group's commit through one admin client (its futures in flight
together). Groups: most commit on one or two topics, one in ten on 20 topics; `--members`
of them have live members (half classic, half KIP-848); one "wide" group commits on a
1,000-partition topic and 1,000 more topics (5,000 partitions).

Every answer is timed cold (KAFKAVIEW_READ_MAX_AGE=0: each read goes to Kafka) and warm
(a shared read answers), p50 and p95 of --runs, with its size and the Kafka requests one
cold answer sent; --cli times Kafka's own tools doing the same work on the same cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["KAFKAVIEW_READ_MAX_AGE"] = "0"

from _common import CACHE_DIR, django_for_bench, table, timed, view_request


def p95(values: list[float]) -> float:
    """The 95th percentile (the largest value for fewer than 20 runs)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cluster_start(brokers: int, heap: str) -> Any:  # LocalBroker or LocalCluster
    """A controller and `brokers` brokers in a fresh folder, or one broker for --brokers 1."""
    from devtools.broker import LocalBroker, LocalCluster

    data = Path(tempfile.mkdtemp(prefix="kafkaview-big-"))
    began = time.monotonic()
    if brokers == 1:
        node: Any = LocalBroker(data_dir=data, cache_dir=CACHE_DIR, heap=heap)
        node.start(timeout=180)
    else:
        node = LocalCluster(data_dir=data, cache_dir=CACHE_DIR, brokers=brokers, heap=heap)
        node.start(timeout=180)
    print(f"# {brokers} broker(s) at {node.bootstrap_servers} in {time.monotonic() - began:.0f} s")
    return node


def build(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    """Topics with records on every partition, groups with commits, some with members."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    tag = f"{random.randrange(1 << 20):05x}"
    names = [f"big-{tag}-{i:05d}" for i in range(args.topics)]
    wide = f"big-{tag}-wide"
    began = time.monotonic()
    todo = [NewTopic(n, args.partitions, 1) for n in names] + [NewTopic(wide, 1000, 1)]
    for start in range(0, len(todo), 500):
        futures = admin.create_topics(todo[start : start + 500], request_timeout=300)
        for f in futures.values():
            f.result(timeout=600)
    print(f"# {len(todo)} topics created in {time.monotonic() - began:.0f} s", flush=True)
    # A topic's partitions need a leader that answers before records go in.
    began = time.monotonic()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "queue.buffering.max.messages": 1_000_000}
    )
    partitions = [(n, p) for n in names for p in range(args.partitions)]
    partitions += [(wide, p) for p in range(1000)]
    for n, p in partitions:
        for i in range(args.records):
            producer.produce(n, value=b"v" * 40, key=b"k%d" % i, partition=p)
        producer.poll(0)
    left = producer.flush(600)
    print(
        f"# {len(partitions) * args.records:,} records on {len(partitions):,} partitions in "
        f"{time.monotonic() - began:.0f} s ({left} not delivered)",
        flush=True,
    )
    began = time.monotonic()
    groups = [f"big-{tag}-g{g:05d}" for g in range(args.groups)]
    commits = []
    for i, g in enumerate(groups):
        many = 20 if i % 10 == 0 else 1 + i % 2
        chosen = [names[(i * 7 + k * 131) % len(names)] for k in range(many)]
        commits.append(
            ConsumerGroupTopicPartitions(
                g,
                [
                    TopicPartition(t, p, random.randint(0, args.records))
                    for t in chosen
                    for p in range(args.partitions)
                ],
            )
        )
    wide_group = f"big-{tag}-wide-group"
    commits.append(
        ConsumerGroupTopicPartitions(
            wide_group,
            [TopicPartition(wide, p, random.randint(0, args.records)) for p in range(1000)]
            + [
                TopicPartition(names[k], p, random.randint(0, args.records))
                for k in range(1000)
                for p in range(args.partitions)
            ],
        )
    )
    for _attempt in range(5):
        pending = [
            (c, admin.alter_consumer_group_offsets([c], request_timeout=120)) for c in commits
        ]
        failed = []
        for c, futures in pending:
            for f in futures.values():
                try:
                    if any(tp.error for tp in f.result(timeout=600).topic_partitions):
                        failed.append(c)
                except Exception:  # a coordinator still loading: send it again
                    failed.append(c)
        commits = failed
        if not commits:
            break
    print(
        f"# {len(groups) + 1:,} groups committed in {time.monotonic() - began:.0f} s "
        f"({len(commits)} failed)",
        flush=True,
    )
    members = []
    for i in range(args.members):
        protocol = "consumer" if i % 2 else "classic"
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"big-{tag}-live{i:03d}",
                "group.protocol": protocol,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # The bench polls them only while it waits for their assignments.
                "max.poll.interval.ms": 86_400_000,
            }
        )
        consumer.subscribe([names[i]])
        members.append(consumer)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(m.assignment() for m in members):
        for m in members:
            m.poll(0.01)
    print(f"# {len(members)} groups with a live member", flush=True)
    return {
        "names": names,
        "groups": groups,
        "wide": wide,
        "wide_group": wide_group,
        "members": members,
        "busy": groups[0],  # one of those on 20 topics
    }


HEADERS = ["answer", "cold p50 / p95 s", "warm p50 / p95 s", "KiB", "Kafka requests"]


def measure(scene: dict[str, Any], runs: int) -> list[list[str]]:
    """Each answer cold and warm: p50/p95, size, Kafka requests of one cold answer."""
    from django.test import override_settings

    from dashboard.browse import views
    from dashboard.kafka.client.counters import requests_counted

    t = scene["names"][len(scene["names"]) // 2]
    cases: list[tuple[str, Callable[..., Any], str, dict[str, str]]] = [
        ("overview JSON", views.api_overview, "/api/clusters/local/", {}),
        ("overview page", views.overview, "/clusters/local/", {}),
        ("topic list page, by name", views.topics, "/clusters/local/topics/", {}),
        ("topic list JSON, by name", views.api_topics, "/api/clusters/local/topics/?", {}),
        (
            "topic list JSON, by messages",
            views.api_topics,
            "/api/clusters/local/topics/?sort=messages&dir=desc",
            {},
        ),
        ("group list page, by name", views.groups, "/clusters/local/groups/", {}),
        ("group list JSON, by name", views.api_groups, "/api/clusters/local/groups/?", {}),
        (
            "group list JSON, by lag",
            views.api_groups,
            "/api/clusters/local/groups/?sort=total_lag&dir=desc&limit=100",
            {},
        ),
        (
            "one topic page (4 partitions)",
            views.topic,
            f"/clusters/local/topics/{t}/",
            {"topic": t},
        ),
        (
            "one topic page (1,000 partitions)",
            views.topic,
            f"/clusters/local/topics/{scene['wide']}/",
            {"topic": scene["wide"]},
        ),
        (
            "one group page (20 topics)",
            views.group,
            f"/clusters/local/groups/{scene['busy']}/",
            {"group": scene["busy"]},
        ),
        (
            "one group page (5,000 partitions)",
            views.group,
            f"/clusters/local/groups/{scene['wide_group']}/",
            {"group": scene["wide_group"]},
        ),
    ]
    rows = []
    for label, view, path, kwargs in cases:

        def answer(v: Any = view, p: str = path, k: dict[str, str] = kwargs) -> bytes:
            return bytes(view_request(v, p, cluster="local", **k).content)

        with override_settings(KAFKAVIEW_READ_MAX_AGE=0):
            before = sum(requests_counted().values())
            answer()
            sent = sum(requests_counted().values()) - before
            cold, body = timed(answer, runs)
        with override_settings(KAFKAVIEW_READ_MAX_AGE=3600):
            answer()
            warm, _ = timed(answer, runs)
        rows.append(
            [
                label,
                f"{statistics.median(cold):.2f} / {p95(cold):.2f}",
                f"{statistics.median(warm):.3f} / {p95(warm):.3f}",
                f"{len(body) / 1024:,.0f}",
                str(sent),
            ]
        )
        print("# " + " | ".join(rows[-1]), flush=True)
    return rows


def cli_times(bootstrap: str) -> list[list[str]]:
    """Kafka's own tools on the same cluster: the work the lists replace."""
    from devtools.broker import cli_run

    rows = []
    for label, tool, args in [
        ("kafka-topics --describe", "topics", ["--describe"]),
        (
            "kafka-consumer-groups --describe --all-groups",
            "consumer-groups",
            ["--describe", "--all-groups"],
        ),
        ("kafka-consumer-groups --list", "consumer-groups", ["--list"]),
    ]:
        began = time.perf_counter()
        done = cli_run(
            tool=tool,
            args=["--bootstrap-server", bootstrap, *args],
            cache_dir=CACHE_DIR,
            timeout=1800,
        )
        took = time.perf_counter() - began
        rows.append([label, f"{took:.1f}", f"{len(done.stdout) / 1024:,.0f}", str(done.returncode)])
        print("# " + " | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--topics", type=int, default=9000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--groups", type=int, default=10000)
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument("--records", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--heap", default="1536m")
    parser.add_argument("--cli", action="store_true", help="time Kafka's own tools too")
    parser.add_argument(
        "--serve",
        metavar="FILE",
        help="build, write the cluster's address and names to FILE, and keep it up until killed",
    )
    parser.add_argument(
        "--scene", metavar="FILE", help="measure a cluster kept up by --serve (no build)"
    )
    args = parser.parse_args()
    if args.scene:
        scene = json.loads(Path(args.scene).read_text())
        django_for_bench(scene["bootstrap"], request_timeout="60")
        print(table(HEADERS, measure(scene, args.runs)))
        return
    cluster: Any = cluster_start(args.brokers, args.heap)
    bootstrap = str(cluster.bootstrap_servers)
    try:
        django_for_bench(bootstrap, request_timeout="60")
        scene = build(args, bootstrap)
        if args.serve:
            kept = {k: v for k, v in scene.items() if k != "members"}
            Path(args.serve).write_text(json.dumps({**kept, "bootstrap": bootstrap}))
            print(f"# serving; the scene is in {args.serve}", flush=True)
            while True:  # the live members keep their assignments: poll them now and then
                for member in scene["members"]:
                    member.poll(0)
                time.sleep(1)
        rows = measure(scene, args.runs)
        print()
        print(
            f"{args.topics:,} topics x {args.partitions} (+1 of 1,000), {args.groups:,} groups "
            f"(+1 on 5,000 partitions), {args.brokers} broker(s); cold: sharing off, warm: a "
            "shared read"
        )
        print(table(HEADERS, rows))
        if args.cli:
            print()
            print(table(["Kafka's tool", "s", "KiB out", "exit"], cli_times(bootstrap)))
        for member in scene["members"]:
            member.close()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
