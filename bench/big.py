"""A big cluster: 5,000 topics x 4 partitions and 2,000 groups, paged lists and their sizes.

    .venv/bin/python bench/big.py [--topics 4000] [--partitions 4] [--groups 2000] [--runs 3]

The issue's cluster has 5,000 topics x 4; a single local broker holds an open file per
partition, and this machine's hard limit is 20,000 open files (`ulimit -Hn`), so the
default is 4,000 x 4 = 16,000 partitions.

Starts a broker (or uses --bootstrap), creates the topics and groups (each group commits
on all partitions of one of the first 50 topics), then times each list answer with
sharing off (KAFKAVIEW_READ_MAX_AGE=0: every answer reads Kafka) and prints its size.
Sorting by name reads only the shown page's watermarks (topics) or describes only its
groups; sorting by messages or lag reads every topic or group in one batched round.
"""

from __future__ import annotations

import argparse
import os
import random
from typing import Any

os.environ["KAFKAVIEW_READ_MAX_AGE"] = "0"

# Set before _common sets Django up: every answer below reads Kafka.
from _common import (
    broker_and_django,
    groups_with_commits,
    median,
    table,
    timed,
    view_request,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=4000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args()
    with broker_and_django(bootstrap=args.bootstrap, heap="2g") as bootstrap:
        from confluent_kafka.admin import AdminClient, NewTopic

        from dashboard.browse import views

        admin = AdminClient({"bootstrap.servers": bootstrap})
        tag = random.randrange(1 << 30)
        # The groups' 50 topics come first, then the rest up to --topics.
        groups_with_commits(
            bootstrap, groups=args.groups, topics=50, partitions=args.partitions, messages=5
        )
        names = [f"bench-big-{tag}-{i:05d}" for i in range(args.topics - 50)]
        for start in range(0, len(names), 250):
            futures = admin.create_topics(
                [NewTopic(n, args.partitions, 1) for n in names[start : start + 250]],
                request_timeout=120,
            )
            for f in futures.values():
                f.result(timeout=300)
        print(f"# {args.topics} topics x {args.partitions}, {args.groups} groups", flush=True)
        # New partitions need a leader before their offsets can be listed: wait for all.
        import time

        from dashboard.kafka.errors import ClusterUnavailable
        from dashboard.kafka.topics import topic_list

        deadline, settled = time.monotonic() + 300, 0
        while settled < 3:  # three full reads in a row: every leader elected and known
            try:
                topic_list(cluster="local")
                settled += 1
            except ClusterUnavailable:
                settled = 0
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

        def get(view: Any, path: str, query: str) -> bytes:
            response = view_request(view, f"{path}?{query}", cluster="local")
            assert response.status_code == 200, (path, query, response.content[:300])
            return bytes(response.content)

        cases = [
            ("topic list page, page 1 (100 rows)", views.topics, "/clusters/local/topics/", ""),
            (
                "topic list JSON, page 1 (1,000)",
                views.api_topics,
                "/api/clusters/local/topics/",
                "",
            ),
            ("topic list JSON, page 4", views.api_topics, "/api/clusters/local/topics/", "page=4"),
            (
                "topic list JSON, search ?q=-0042",
                views.api_topics,
                "/api/clusters/local/topics/",
                "q=-0042",
            ),
            (
                "topic list JSON, by messages (reads every partition)",
                views.api_topics,
                "/api/clusters/local/topics/",
                "sort=messages&dir=desc",
            ),
            ("group list page, page 1 (100 rows)", views.groups, "/clusters/local/groups/", ""),
            ("group list JSON, page 1 (500)", views.api_groups, "/api/clusters/local/groups/", ""),
            (
                "group list JSON, page 4",
                views.api_groups,
                "/api/clusters/local/groups/",
                "page=4",
            ),
            (
                "group list JSON, by lag (describes all groups)",
                views.api_groups,
                "/api/clusters/local/groups/",
                "sort=total_lag&dir=desc&limit=100",
            ),
        ]
        rows = []
        for label, view, path, query in cases:

            def answer(v: Any = view, p: str = path, q: str = query) -> bytes:
                return get(v, p, q)

            times, body = timed(answer, args.runs)
            rows.append(
                [label, f"{median(times):.3f}", f"{max(times):.3f}", f"{len(body) / 1024:,.0f}"]
            )
    print()
    print(table(["answer", "median s", "max s", "KiB"], rows))


if __name__ == "__main__":
    main()
