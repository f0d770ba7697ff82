"""Many viewers: N logged-in clients on the list pages and their JSON, against a real Daphne.

    .venv/bin/python bench/load.py [--clients 1,10,50,100] [--seconds 15] [--groups 45]

Starts a broker (or uses --bootstrap) with --topics topics and --groups groups (commits
on every partition), and one Daphne on a fresh database. For each N, N client threads
loop over the overview, topic list and group list (page and JSON, six URLs), each with a
session of its own, on keep-alive connections for --seconds, then it prints requests/s,
p50/p99 latency, errors, the Kafka requests the Daphnes sent per second (their
kafkaview_kafka_requests counters in /metrics, read before and after) and CPU use.
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

from _common import BASE_DIR, broker_and_django, groups_with_commits, session_cookies, table

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


def start_daphnes(
    bootstrap: str, port: int, processes: int, extra: dict[str, str]
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """Daphne processes on one port; each also on a port of its own, for its /metrics."""
    from devtools.broker import free_port
    from devtools.daphne import daphne_pool_start, http_wait

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKAVIEW_LOG_LEVEL": "WARNING",
        **extra,
    }
    log = open(DB.parent / "daphne.log", "ab")  # noqa: SIM115 - lives as long as Daphne
    own = [free_port() for _ in range(processes)]
    procs = daphne_pool_start(
        port=port, processes=processes, cwd=BASE_DIR, env=env, log=log, own_ports=own
    )
    for proc, own_port in zip(procs, own, strict=True):
        http_wait(f"http://127.0.0.1:{own_port}/healthz", timeout=30, process=proc)
    return procs, own


def kafka_requests(ports: list[int], cookie: str) -> float:
    """Kafka requests every Daphne has sent so far (each counts its own)."""
    return sum(process_kafka_requests(port, cookie) for port in ports)


def process_kafka_requests(port: int, cookie: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers={"Cookie": cookie})
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kafkaview_kafka_requests_total{")
    )


def machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle (every core, every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def run(  # noqa: PLR0917 - one row of the table
    port: int, cookies: list[str], clients: int, seconds: float, pids: list[int], own: list[int]
) -> list[object]:
    cookie = cookies[0]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    before = kafka_requests(own, cookie)
    busy_before = machine_busy()
    server_before = sum(process_cpu(pid) for pid in pids)
    mine_before = sum(os.times()[:2])
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=client_loop, args=(port, cookies[n], until, n, latencies[n], errors)
        )
        for n in range(clients)
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    busy = (machine_busy() - busy_before) / elapsed
    server = (sum(process_cpu(pid) for pid in pids) - server_before) / elapsed
    mine = (sum(os.times()[:2]) - mine_before) / elapsed
    after = kafka_requests(own, cookie)
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
        f"{busy:.2f} / {os.cpu_count()}",
        f"{server:.2f}",
        f"{mine:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="1,10,50,100")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--groups", type=int, default=45)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument(
        "--processes", type=int, default=2, help="Daphne processes on one port (make run: 2)"
    )
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
        counts = [int(n) for n in args.clients.split(",") if n.strip()]
        # Each client is a person with a session of their own, as fifty viewers would be.
        cookies = session_cookies(max(*counts, 2))
        port = free_port()
        extra = {} if args.max_age is None else {"KAFKAVIEW_READ_MAX_AGE": args.max_age}
        daphnes, own = start_daphnes(bootstrap, port, args.processes, extra)
        pids = [d.pid for d in daphnes]
        try:
            run(port, cookies, 2, 2.0, pids, own)  # warm up: clients, connections, templates
            rows = []
            for n in counts:
                spy = None
                if args.profile and n == max(counts):
                    spy = subprocess.Popen(
                        [
                            str(BASE_DIR / ".venv/bin/py-spy"),
                            "record",
                            "--pid", str(pids[0]),
                            "--duration", str(int(args.seconds)),
                            "--format", "raw",
                            "--output", args.profile,
                            "--threads", "--nonblocking",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                rows.append(run(port, cookies, n, args.seconds, pids, own))
                if spy is not None:
                    spy.wait(timeout=60)
        finally:
            from devtools.processes import children_stop

            children_stop(daphnes, grace=10)
    print()
    print(
        f"{args.topics} topics x {args.partitions} partitions, {args.groups} groups; "
        f"{args.seconds:.0f} s per row; {args.processes} Daphne process(es); "
        f"KAFKAVIEW_READ_MAX_AGE={args.max_age or 'default'}"
    )
    print(
        table(
            [
                "clients",
                "requests",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "Kafka req/s",
                "CPU busy (cores)",
                "Daphne CPU",
                "clients' CPU",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
