"""Topic list with message counts: 1,000 topics x 10 partitions by default.

.venv/bin/python bench/topics.py [--topics 1000] [--partitions 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import random

from _common import broker_and_django, median, table, timed, view_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bootstrap", default=None, help="use this cluster, start no broker")
    args = parser.parse_args()

    with broker_and_django(bootstrap=args.bootstrap, heap="2g") as bootstrap:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        from dashboard.browse import views
        from dashboard.kafka.client.clients import admin_clients_forget

        admin = AdminClient({"bootstrap.servers": bootstrap})
        tag = random.randrange(1 << 30)
        names = [f"bench-topic-{tag}-{i}" for i in range(args.topics)]
        for start in range(0, len(names), 100):
            futures = admin.create_topics(
                [NewTopic(n, args.partitions, 1) for n in names[start : start + 100]],
                request_timeout=120,
            )
            for f in futures.values():
                f.result(timeout=300)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
        for n in names[:: max(1, len(names) // 100)]:
            for p in range(args.partitions):
                producer.produce(n, value=b"y", partition=p)
            producer.poll(0)
        producer.flush(120)
        print(f"# {args.topics} topics x {args.partitions} partitions", flush=True)

        def topic_list() -> dict:
            response = view_request(
                views.api_topics, "/api/clusters/local/topics/", cluster="local"
            )
            return json.loads(response.content)

        def topic_list_cold() -> dict:
            admin_clients_forget()
            return topic_list()

        def topic_page() -> bytes:
            return view_request(views.topics, "/clusters/local/topics/", cluster="local").content

        cold_times, data = timed(topic_list_cold, args.runs)
        warm_times, _ = timed(topic_list, args.runs)
        page_times, html = timed(topic_page, args.runs)
        listed = sum(1 for t in data["topics"] if t["name"].startswith(f"bench-topic-{tag}"))
        print()
        print(
            table(
                ["what", "runs", "median s", "min s", "max s"],
                [
                    [
                        "topic list JSON, cold (new client, no cache)",
                        args.runs,
                        f"{median(cold_times):.3f}",
                        f"{min(cold_times):.3f}",
                        f"{max(cold_times):.3f}",
                    ],
                    [
                        "topic list JSON, warm (shared client)",
                        args.runs,
                        f"{median(warm_times):.3f}",
                        f"{min(warm_times):.3f}",
                        f"{max(warm_times):.3f}",
                    ],
                    [
                        "topic list HTML page, warm",
                        args.runs,
                        f"{median(page_times):.3f}",
                        f"{min(page_times):.3f}",
                        f"{max(page_times):.3f}",
                    ],
                ],
            )
        )
        print()
        print(f"topics listed: {listed} of {args.topics}; page size {len(html) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
