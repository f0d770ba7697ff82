"""Live tail over a real Daphne: throughput, latency, a bare consumer for the ratio, memory.

    .venv/bin/python bench/tail.py [--backlog 30000] [--search 500000] [--rate 1000] [--tails 50]

Starts a broker (or uses --bootstrap) and Daphne on a temporary database with a
logged-in user, then measures in one run:
  1. a --backlog record backlog tailed from earliest to one socket, the reader acking
     at once: every record delivered, messages/s;
  2. a search with no match over --search records of 100 bytes, against a bare
     confluent-kafka consumer reading the same records in the same run (the ratio);
  3. messages/s to one websocket while the topic is produced at full speed;
  4. produce -> socket latency p50/p99 at --rate messages/s;
  5. Daphne's RSS with --tails tails open on a busy topic while one client stops reading;
  6. with --avro N (default 30,000; 0: off): N small Avro records written by
     confluent-kafka's AvroSerializer through a real Schema Registry (Apicurio), tailed from
     earliest and decoded: messages/s and how many came decoded (--avro-only: just this).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import BASE_DIR, broker_and_django, daphne_for_bench, rss_mb, session_cookie, table

DB = Path(tempfile.mkdtemp(prefix="kafkaview-bench-tail-")) / "db.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-tail-secret")


def avro_tail(bootstrap: str, url: str, base: str, cookie: str, count: int) -> list[list[str]]:
    """Small Avro records through the registry, tailed from earliest and decoded."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = f"bench-tail-avro-{time.time_ns()}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a dropped client cancels
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    schema = {
        "type": "record",
        "name": "Reading",
        "fields": [
            {"name": "sensor", "type": "string"},
            {"name": "value", "type": "double"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "ok", "type": "boolean"},
        ],
    }
    serializer = AvroSerializer(SchemaRegistryClient({"url": url}), json.dumps(schema))
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    ctx = SerializationContext(topic, MessageField.VALUE)
    now = int(time.time() * 1000)
    for i in range(count):
        value = serializer(
            {"sensor": f"s-{i % 50}", "value": i / 7, "at": now + i, "ok": True}, ctx
        )
        while True:
            try:
                producer.produce(topic, key=str(i % 64).encode(), value=value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)

    async def tail() -> Client:
        client = Client(f"{base}/{topic}/tail/", cookie)
        await client.open(start="earliest")
        await client.run(until=count)
        await client.ws.close()
        return client

    client = asyncio.run(asyncio.wait_for(tail(), 300))
    rate = client.received / (client.last_at - client.first_at)
    return [
        [f"{count:,} small Avro records (4 fields) from earliest, decoded", f"{client.decoded:,}",
         f"of {client.received:,} delivered"],
        ["  decoded tail speed, first record to last", f"{rate:,.0f} msg/s", "target >= 20,000"],
    ]  # fmt: skip


class SkipToMemory(Exception):
    """--memory-only: go straight to the memory measurement (--no-memory: past it)."""


def start_daphne(
    bootstrap: str, port: int, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return daphne_for_bench(bootstrap=bootstrap, port=port, log_dir=DB.parent, extra=extra)


class Client:
    """A websocket tail client that counts records, optionally measuring latency."""

    def __init__(self, url: str, cookie: str, *, read: bool = True) -> None:
        self.url, self.cookie, self.read = url, cookie, read
        self.received = 0
        self.decoded = 0  # records whose value came decoded with its schema
        self.dropped = 0
        self.latencies: list[float] = []
        self.first_at = self.last_at = self.started_at = self.opened_at = 0.0
        self.done: dict[str, Any] = {}
        self.ws: Any = None

    async def open(self, **start: object) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            self.url,
            additional_headers={"Cookie": self.cookie, "Origin": "http://127.0.0.1"},
            max_size=16 * 1024 * 1024,
            max_queue=4 if not self.read else 64,
        )
        await self.ws.recv()  # hello
        self.started_at = time.time()
        await self.ws.send(json.dumps({"type": "start", **start}))
        while True:
            frame = json.loads(await self.ws.recv())
            if frame["type"] == "started":
                self.opened_at = time.time()
                return
            if frame["type"] == "error":
                raise RuntimeError(frame["message"])

    async def run(self, *, until: int | None = None, latency: bool = False) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "done":
                self.done = frame
                self.last_at = time.time()
                return
            if frame["type"] == "stats":
                self.dropped = frame["dropped"]
                # Done when every message was either delivered or dropped for being slow.
                if until is not None and self.received + self.dropped >= until:
                    return
            if frame["type"] != "batch":
                continue
            now = time.time()
            if not self.first_at:
                self.first_at = now
            self.last_at = now
            records = frame["records"]
            self.received += len(records)
            self.decoded += sum(
                1
                for r in records
                if "id" in r["value"].get("schema", {"error": 1})
                and "error" not in r["value"]["schema"]
            )
            if latency:
                self.latencies.extend(now * 1000 - r["timestamp"] for r in records)
            await self.ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
            if until is not None and self.received >= until:
                return


def produce(
    bootstrap: str, topic: str, count: int, *, rate: float | None = None, size: int = 40
) -> float:
    """Produce count messages of size bytes (at rate per second, or at full speed); seconds."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5 if rate else 20, "batch.size": 1000000}
    )
    began = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=str(i % 64).encode(), value=b"v" * size)
                break
            except BufferError:
                producer.poll(0.01)
        if rate:
            # Pace by the clock, not by sleeps per message, so the rate holds on a busy box.
            due = began + (i + 1) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                producer.poll(0)
                time.sleep(delay)
        elif i % 10000 == 0:
            producer.poll(0)
    producer.flush(120)
    return time.perf_counter() - began


def bare_consumer(bootstrap: str, topic: str, count: int) -> float:
    """messages/s of a bare confluent-kafka consumer reading count messages from the start."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-bare", "enable.auto.commit": False}
    )
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    seen, began = 0, time.perf_counter()
    while seen < count:
        for msg in consumer.consume(500, timeout=1.0):
            if not msg.error():
                seen += 1
    elapsed = time.perf_counter() - began
    consumer.close()
    return seen / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=30_000)
    parser.add_argument("--search", type=int, default=500_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--latency-seconds", type=int, default=15)
    parser.add_argument("--tails", type=int, default=50)
    parser.add_argument("--memory-seconds", type=int, default=30)
    parser.add_argument(
        "--memory-rate", type=int, default=4000, help="msg/s on the topic the 50 tails read"
    )
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--avro", type=int, default=30_000, help="Avro records (0: skip)")
    parser.add_argument("--avro-only", action="store_true", help="only the decoded tail")
    parser.add_argument("--memory-only", action="store_true", help="skip throughput and latency")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    args = parser.parse_args()

    with broker_and_django(bootstrap=args.bootstrap) as bootstrap:
        from confluent_kafka.admin import AdminClient, NewTopic

        from devtools.broker import free_port

        cookie = session_cookie()
        port = free_port()
        registry = None
        extra: dict[str, str] = {}
        if args.avro:
            from devtools.registry import LocalRegistry

            registry = LocalRegistry(cache_dir=BASE_DIR / ".cache")
            extra["KAFKAVIEW_SCHEMA_REGISTRY_URL"] = registry.start()
        daphne = start_daphne(bootstrap, port, extra)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        tag = time.time_ns()
        kinds = ("backlog", "search", "fast", "paced", "busy")
        backlog, searched, fast, paced, busy = (f"bench-tail-{k}-{tag}" for k in kinds)
        names = (backlog, searched, fast, paced, busy)
        for f in admin.create_topics([NewTopic(t, 3, 1) for t in names]).values():
            f.result(timeout=30)
        base = f"ws://127.0.0.1:{port}/ws/clusters/local/topics"
        rows = []
        try:
            if args.avro and registry is not None:
                rows += avro_tail(bootstrap, registry.url, base, cookie, args.avro)
                print("# avro done", flush=True)
            if args.memory_only or args.avro_only:
                raise SkipToMemory

            # 1. A backlog from earliest to one socket, the reader acking at once.
            produce(bootstrap, backlog, args.backlog)

            async def from_earliest(topic: str, count: int, **start: object) -> Client:
                client = Client(f"{base}/{topic}/tail/", cookie)
                await client.open(start="earliest", **start)
                await client.run(until=count)
                await client.ws.close()
                return client

            client = asyncio.run(asyncio.wait_for(from_earliest(backlog, args.backlog), 300))
            rows += [
                [
                    f"backlog of {args.backlog:,} from earliest -> one socket, delivered",
                    f"{client.received:,}",
                    "all",
                ],
                [
                    "  its speed, first record to last",
                    f"{client.received / (client.last_at - client.first_at):,.0f} msg/s",
                    "target >= 50,000",
                ],
                [
                    "  its speed, start sent to last record",
                    f"{client.received / (client.last_at - client.started_at):,.0f} msg/s",
                    "with the consumer's start",
                ],
                [
                    "  start sent -> started frame -> first record",
                    f"{(client.opened_at - client.started_at) * 1000:.0f} ms, "
                    f"{(client.first_at - client.opened_at) * 1000:.0f} ms",
                    "",
                ],
            ]
            print("# backlog done", flush=True)

            # 2. A search with no match over many 100-byte records, and a bare consumer.
            produce(bootstrap, searched, args.search, size=100)
            # Three runs of each, alternating: a bare consumer's run swings between ~0.4 and
            # ~2.3 M msg/s (its 1 s fetch.queue.backoff.ms once its queue is over
            # queued.min.messages), so the strict ratio is the slowest search against the
            # fastest bare run.
            bare_rates, search_rates = [], []
            for _ in range(3):
                bare_rates.append(bare_consumer(bootstrap, searched, args.search))
                search = asyncio.run(
                    asyncio.wait_for(
                        from_earliest(
                            searched, args.search, end="now", filter={"text": "no such text"}
                        ),
                        600,
                    )
                )
                scanned = search.done.get("scanned", 0)
                search_rates.append(scanned / (search.last_at - search.started_at))
            bare_rate, search_rate = statistics.median(bare_rates), statistics.median(search_rates)
            rows += [
                [
                    "bare confluent-kafka consumer, 100-byte records (median of 3)",
                    f"{bare_rate:,.0f} msg/s",
                    ", ".join(f"{r:,.0f}" for r in bare_rates),
                ],
                [
                    f"search, no match, {args.search:,} records: scanned (last run)",
                    f"{scanned:,} ({search.done.get('matched', '?')} matched)",
                    "all",
                ],
                [
                    "  its speed, start sent to done (median of 3)",
                    f"{search_rate:,.0f} msg/s",
                    ", ".join(f"{r:,.0f}" for r in search_rates),
                ],
                ["  search / bare consumer (medians)", f"{search_rate / bare_rate:.2f}x", ""],
                [
                    "  slowest search / fastest bare consumer",
                    f"{min(search_rates) / max(bare_rates):.2f}x",
                    "target >= 0.5x",
                ],
            ]
            print("# search done", flush=True)

            # 3. Throughput to one socket while producing at full speed.
            async def throughput() -> tuple[Client, float]:
                client = Client(f"{base}/{fast}/tail/", cookie)
                await client.open(start="latest")
                producing = asyncio.create_task(
                    asyncio.to_thread(produce, bootstrap, fast, args.messages)
                )
                await client.run(until=args.messages)
                produce_s = await producing
                await client.ws.close()
                return client, produce_s

            client, produce_s = asyncio.run(asyncio.wait_for(throughput(), 300))
            tail_rate = client.received / max(client.last_at - client.first_at, 1e-3)
            rows += [
                ["producer, full speed", f"{args.messages / produce_s:,.0f} msg/s", ""],
                [
                    "tail -> one websocket while producing",
                    f"{tail_rate:,.0f} msg/s, {client.received:,} of {args.messages:,}",
                    f"{client.dropped} dropped",
                ],
            ]
            print("# throughput done", flush=True)

            # 4. Latency at a steady rate.
            total = args.rate * args.latency_seconds

            async def latency() -> Client:
                client = Client(f"{base}/{paced}/tail/", cookie)
                await client.open(start="latest")
                producing = asyncio.create_task(
                    asyncio.to_thread(produce, bootstrap, paced, total, rate=args.rate)
                )
                await client.run(until=total, latency=True)
                await producing
                await client.ws.close()
                return client

            client = asyncio.run(asyncio.wait_for(latency(), 600))
            lat = sorted(client.latencies)
            p50 = statistics.median(lat)
            p99 = lat[int(len(lat) * 0.99) - 1]
            rows += [
                [f"produce -> socket latency p50 at {args.rate}/s", f"{p50:.0f} ms", ""],
                [
                    f"produce -> socket latency p99 at {args.rate}/s",
                    f"{p99:.0f} ms",
                    "target < 300 ms",
                ],
            ]
            print("# latency done", flush=True)

        except SkipToMemory:
            pass
        try:
            if args.no_memory or args.avro_only:
                raise SkipToMemory
            # 5. Memory: many tails on a busy topic, one of which stops reading.
            rss_before = rss_mb(daphne.pid)

            async def memory() -> tuple[float, float]:
                clients = [
                    Client(f"{base}/{busy}/tail/", cookie, read=i != 0) for i in range(args.tails)
                ]
                for c in clients:
                    await c.open(start="latest")
                opened = rss_mb(daphne.pid)
                readers = [asyncio.create_task(c.run()) for c in clients if c.read]
                stop = threading.Event()

                def keep_producing() -> None:
                    while not stop.is_set():
                        produce(bootstrap, busy, args.memory_rate, rate=args.memory_rate)

                producer = asyncio.create_task(asyncio.to_thread(keep_producing))
                peak = opened
                for _ in range(args.memory_seconds):
                    await asyncio.sleep(1)
                    peak = max(peak, rss_mb(daphne.pid))
                stop.set()
                await producer
                for task in readers:
                    task.cancel()
                for c in clients:
                    await c.ws.close()
                return opened, peak

            opened, peak = asyncio.run(asyncio.wait_for(memory(), 900))
            rows += [
                ["Daphne RSS before tails", f"{rss_before:.0f} MB", ""],
                [f"Daphne RSS with {args.tails} tails open", f"{opened:.0f} MB", ""],
                [
                    f"Daphne RSS peak, {args.memory_seconds} s at {args.memory_rate:,} msg/s,"
                    " one reader stalled",
                    f"{peak:.0f} MB",
                    "",
                ],
                ["RSS growth while streaming", f"{peak - opened:.0f} MB", "target < 50 MB"],
                ["RSS growth from no tails", f"{peak - rss_before:.0f} MB", ""],
            ]
        except SkipToMemory:  # --no-memory
            pass
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)
            if registry is not None:
                registry.stop()
        print()
        print(table(["measure", "value", "note"], rows))


if __name__ == "__main__":
    main()
