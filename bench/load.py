"""Many viewers: N logged-in clients on the list pages and their JSON, against a real Daphne.

    .venv/bin/python bench/load.py [--clients 1,10,50,100] [--seconds 15] [--groups 45]

Starts a broker (or uses --bootstrap) with --topics topics and --groups groups (commits
on every partition), and one Daphne on a fresh database. For each N, N client threads
loop over the overview, topic list and group list (page and JSON, six URLs) on
keep-alive connections for --seconds, then it prints requests/s, p50/p99 latency,
errors, and the Kafka requests Daphne sent per second (its kafkaview_kafka_requests
counter in /metrics, read before and after).
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _common import BASE_DIR, broker_and_django, groups_with_commits, session_cookie, table

DB = Path(tempfile.mkdtemp(prefix="kafkaview-bench-load-")) / "db.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-load-secret")

PATHS = (
    "/clusters/local/",
    "/api/clusters/local/",
    "/clusters/local/topics/",
    "/api/clusters/local/topics/",
    "/clusters/local/groups/",
    "/api/clusters/local/groups/",
)


def start_daphne(bootstrap: str, port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    from devtools.daphne import daphne_start, http_wait

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKAVIEW_LOG_LEVEL": "WARNING",
        **extra,
    }
    log = open(DB.parent / "daphne.log", "ab")  # noqa: SIM115 - lives as long as Daphne
    proc = daphne_start(port=port, cwd=BASE_DIR, env=env, log=log)
    http_wait(f"http://127.0.0.1:{port}/healthz", timeout=30, process=proc)
    return proc


def kafka_requests(port: int, cookie: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers={"Cookie": cookie})
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kafkaview_kafka_requests_total{")
    )


def client_loop(  # noqa: PLR0917 - a thread target
    port: int, cookie: str, until: float, offset: int, out: list[float], errors: list[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = offset
    while time.monotonic() < until:
        path = PATHS[i % len(PATHS)]
        i += 1
        began = time.monotonic()
        try:
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{path}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        out.append(time.monotonic() - began)
    conn.close()


def run(port: int, cookie: str, clients: int, seconds: float) -> list[object]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    before = kafka_requests(port, cookie)
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(port, cookie, until, n, latencies[n], errors))
        for n in range(clients)
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    after = kafka_requests(port, cookie)
    done = sorted(x for xs in latencies for x in xs)
    p = (lambda q: done[min(int(q * len(done)), len(done) - 1)] * 1000) if done else None
    return [
        clients,
        len(done),
        f"{len(done) / elapsed:,.1f}",
        f"{p(0.5):,.0f}" if p else "-",
        f"{p(0.99):,.0f}" if p else "-",
        len(errors),
        f"{(after - before) / elapsed:,.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="1,10,50,100")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--groups", type=int, default=45)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--max-age", default=None, help="KAFKAVIEW_READ_MAX_AGE for Daphne")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument(
        "--profile", default=None, help="py-spy Daphne during the largest N into this file"
    )
    args = parser.parse_args()
    with broker_and_django(bootstrap=args.bootstrap) as bootstrap:
        from devtools.broker import free_port

        groups_with_commits(
            bootstrap,
            groups=args.groups,
            topics=args.topics,
            partitions=args.partitions,
            messages=10,
        )
        cookie = session_cookie()
        port = free_port()
        extra = {} if args.max_age is None else {"KAFKAVIEW_READ_MAX_AGE": args.max_age}
        daphne = start_daphne(bootstrap, port, extra)
        try:
            run(port, cookie, 2, 2.0)  # warm up: clients, connections, templates
            counts = [int(n) for n in args.clients.split(",") if n.strip()]
            rows = []
            for n in counts:
                spy = None
                if args.profile and n == max(counts):
                    spy = subprocess.Popen(
                        [
                            str(BASE_DIR / ".venv/bin/py-spy"),
                            "record",
                            "--pid", str(daphne.pid),
                            "--duration", str(int(args.seconds)),
                            "--format", "raw",
                            "--output", args.profile,
                            "--threads", "--nonblocking",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                rows.append(run(port, cookie, n, args.seconds))
                if spy is not None:
                    spy.wait(timeout=60)
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)
    print()
    print(
        f"{args.topics} topics x {args.partitions} partitions, {args.groups} groups; "
        f"{args.seconds:.0f} s per row; KAFKAVIEW_READ_MAX_AGE={args.max_age or 'default'}"
    )
    print(
        table(
            ["clients", "requests", "requests/s", "p50 ms", "p99 ms", "errors", "Kafka req/s"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
