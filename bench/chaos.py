"""A flaky broker under a running dashboard: hangs (SIGSTOP) and crashes (SIGKILL + restart).

    .venv/bin/python bench/chaos.py [--hangs 20] [--restarts 5] [--min-hang 5] [--max-hang 30]

Starts its own broker, Daphne and the lag sampler on a temporary database, a producer
(keyed messages, every delivery recorded), viewers polling the overview, topic list and
group list JSON, and one tail from the earliest offset that acks every batch. Then, one
fault at a time, it hangs the broker for a random 5-30 s (or kills and restarts it on
the same data) and prints per fault: how long until a fresh client reads the broker
again, how long after that until every page answers 200, whether the sampler process
lives, and whether the tail said "unavailable". At the end: the records Kafka
acknowledged that the tail never delivered (missing), delivered twice, or dropped.
Target: every recovery <= 10 s after the broker answers; 0 missing, 0 twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from _common import BASE_DIR, CACHE_DIR, session_cookie, table

DB = Path(tempfile.mkdtemp(prefix="kafkaview-bench-chaos-")) / "db.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-chaos-secret")
PAGES = ("/api/clusters/local/", "/api/clusters/local/topics/", "/api/clusters/local/groups/")
TOPIC = "chaos"


class Viewers(threading.Thread):
    """Polls the pages; remembers when all of them last answered 200 together."""

    def __init__(self, base: str, cookie: str) -> None:
        super().__init__(daemon=True)
        self.base, self.cookie = base, cookie
        self.all_ok_at = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            codes = []
            for path in PAGES:
                request = urllib.request.Request(self.base + path, headers={"Cookie": self.cookie})
                try:
                    with urllib.request.urlopen(request, timeout=15) as response:
                        codes.append(response.status)
                except urllib.error.HTTPError as exc:
                    codes.append(exc.code)
                except OSError:
                    codes.append(0)
            if all(code == 200 for code in codes):
                self.all_ok_at = time.monotonic()
            self.stop.wait(0.5)


class Producer(threading.Thread):
    """Keyed messages at ~rate/s; every acknowledged (partition, offset) is recorded."""

    def __init__(self, bootstrap: str, rate: float) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Producer as KafkaProducer

        self.producer = KafkaProducer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "log_level": 0}
        )
        self.rate = rate
        self.acked: set[tuple[int, int]] = set()
        self.stop = threading.Event()

    def _report(self, err: Any, msg: Any) -> None:
        if err is None:
            self.acked.add((msg.partition(), msg.offset()))

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                self.producer.produce(
                    TOPIC, key=str(n % 17).encode(), value=b"%d" % n, on_delivery=self._report
                )
                n += 1
            except BufferError:
                pass
            self.producer.poll(0)
            self.stop.wait(1 / self.rate)
        self.producer.flush(60)


class TailReader(threading.Thread):
    """A tail from the earliest offset that acks every batch; records what it receives."""

    def __init__(self, url: str, cookie: str) -> None:
        super().__init__(daemon=True)
        self.url, self.cookie = url, cookie
        self.received: Counter[tuple[int, int]] = Counter()
        self.states: list[tuple[float, str]] = []
        self.dropped = 0
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        try:
            await self._read(connect)
        except ConnectionClosed:
            if not self.stop.is_set():
                raise

    async def _read(self, connect: Any) -> None:
        async with connect(
            self.url,
            additional_headers={"Cookie": self.cookie, "Origin": "http://127.0.0.1"},
            max_size=16 * 1024 * 1024,
        ) as ws:
            await ws.send(json.dumps({"type": "start", "start": "earliest"}))
            while not self.stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    continue
                frame = json.loads(raw)
                if frame["type"] == "batch":
                    for record in frame["records"]:
                        self.received[(record["partition"], record["offset"])] += 1
                    await ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
                elif frame["type"] == "stats":
                    self.dropped = frame["dropped"]
                    if not self.states or self.states[-1][1] != frame["state"]:
                        self.states.append((time.monotonic(), frame["state"]))


def broker_answers(bootstrap: str, *, timeout: float) -> float | None:
    """Seconds until a fresh admin client's describe_cluster answers (None: it did not)."""
    from confluent_kafka.admin import AdminClient

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        try:
            admin.describe_cluster(request_timeout=2).result(timeout=3)
            return time.monotonic() - began
        except Exception:
            time.sleep(0.2)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hangs", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--min-hang", type=float, default=5)
    parser.add_argument("--max-hang", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50, help="messages per second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    from devtools.broker import LocalBroker, free_port
    from devtools.daphne import daphne_start, http_wait
    from devtools.processes import child_start, children_stop

    data = Path(tempfile.mkdtemp(prefix="kafkaview-chaos-kafka-"))
    broker = LocalBroker(data_dir=data, cache_dir=CACHE_DIR)
    broker.start(timeout=180)
    bootstrap = broker.bootstrap_servers
    print(f"# broker {bootstrap}; database {DB}", flush=True)
    os.environ.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DJANGO_SETTINGS_MODULE": "kafkaview.settings",
            "KAFKAVIEW_SAMPLE_INTERVAL": "2",
            "KAFKAVIEW_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    import django

    django.setup()
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 3, 1)])[TOPIC].result(timeout=30)
    cookie = session_cookie()
    port = free_port()
    log = open(DB.parent / "daphne.log", "wb")  # noqa: SIM115 - lives as long as Daphne
    daphne = daphne_start(port=port, cwd=BASE_DIR, env=dict(os.environ), log=log)
    http_wait(f"http://127.0.0.1:{port}/healthz", timeout=60, process=daphne)
    sampler_log = open(DB.parent / "sampler.log", "wb")  # noqa: SIM115
    sampler = child_start(
        [sys.executable, "manage.py", "lag_sampler"],
        cwd=BASE_DIR,
        env=dict(os.environ),
        stdout=sampler_log,
        stderr=sampler_log,
    )
    producer = Producer(bootstrap, args.rate)
    viewers = Viewers(f"http://127.0.0.1:{port}", cookie)
    tail = TailReader(f"ws://127.0.0.1:{port}/ws/clusters/local/topics/{TOPIC}/tail/", cookie)
    for thread in (producer, viewers, tail):
        thread.start()
    time.sleep(5)

    faults = ["hang"] * args.hangs + ["restart"] * args.restarts
    rng.shuffle(faults)
    rows: list[list[object]] = []
    recoveries: list[float | None] = []  # pages all 200, seconds after the broker answered
    sampler_alive = True
    try:
        for number, kind in enumerate(faults, start=1):
            time.sleep(rng.uniform(3, 6))  # normal traffic between faults
            assert broker.process is not None
            began = time.monotonic()
            if kind == "hang":
                length = rng.uniform(args.min_hang, args.max_hang)
                os.kill(broker.process.pid, signal.SIGSTOP)
                time.sleep(length)
                os.kill(broker.process.pid, signal.SIGCONT)
                what = f"hang {length:.0f} s"
            else:
                broker.process.kill()
                broker.process.wait()
                broker.process = None
                broker.start(timeout=180)
                what = "kill + restart"
            released = time.monotonic()
            answers = broker_answers(bootstrap, timeout=120)
            answered_at = released + (answers or 0.0)
            deadline = answered_at + 120
            while viewers.all_ok_at <= answered_at and time.monotonic() < deadline:
                time.sleep(0.2)
            pages = viewers.all_ok_at - answered_at if viewers.all_ok_at > answered_at else None
            said = any(s == "unavailable" and t >= began for t, s in tail.states)
            recoveries.append(None if pages is None else max(pages, 0.0))
            sampler_alive = sampler.poll() is None
            rows.append(
                [
                    number,
                    what,
                    f"{answers:.1f} s" if answers is not None else "never",
                    f"{max(pages, 0.0):.1f} s" if pages is not None else "> 120 s",
                    "yes" if sampler.poll() is None else f"no (exit {sampler.returncode})",
                    "yes" if said else "no",
                ]
            )
            print("| " + " | ".join(str(c) for c in rows[-1]) + " |", flush=True)
    finally:
        producer.stop.set()
        producer.join(timeout=90)
        # Let the tail catch up with everything Kafka acknowledged.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not producer.acked <= set(tail.received):
            time.sleep(0.5)
        tail.stop.set()
        viewers.stop.set()
        children_stop([daphne, sampler], grace=5)
        broker.stop()
    missing = len(producer.acked - set(tail.received))
    twice = sum(1 for count in tail.received.values() if count > 1)
    print()
    print(
        table(
            [
                "fault",
                "what",
                "broker answers after",
                "pages 200 after that",
                "sampler",
                "tail said unavailable",
            ],
            rows,
        )
    )
    recovered = [r for r in recoveries if r is not None]
    print()
    print(
        table(
            ["measure", "value", "target"],
            [
                ["faults", len(rows), ""],
                [
                    "slowest page recovery after the broker answers",
                    f"{max(recovered, default=0.0):.1f} s",
                    "<= 10 s",
                ],
                ["pages never recovered (120 s)", recoveries.count(None), "0"],
                ["sampler alive at the end", "yes" if sampler_alive else "no", "yes"],
                ["records acknowledged by Kafka", len(producer.acked), ""],
                ["missing in the tail", missing, "0"],
                ["delivered twice", twice, "0"],
                ["dropped by the tail (counted)", tail.dropped, "0"],
            ],
        )
    )


if __name__ == "__main__":
    main()
