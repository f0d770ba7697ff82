"""Shared by the bench scripts: a real broker, Django pointed at it, timing and a table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
# Where the Kafka jars are kept (settings' KAFKAVIEW_CACHE_DIR; Django is not set up yet).
CACHE_DIR = Path(os.environ.get("KAFKAVIEW_CACHE_DIR", BASE_DIR / ".cache"))


@contextmanager
def broker_and_django(*, bootstrap: str | None, heap: str = "1g") -> Iterator[str]:
    """A fresh local broker (unless bootstrap is given), then Django set up against it."""
    from devtools.broker import LocalBroker

    broker = None
    if bootstrap is None:
        data = tempfile.mkdtemp(prefix="kafkaview-bench-")
        broker = LocalBroker(data_dir=Path(data), cache_dir=CACHE_DIR, heap=heap)
        started = time.monotonic()
        broker.start(timeout=180)
        bootstrap = broker.bootstrap_servers
        print(f"# broker {bootstrap} ready in {time.monotonic() - started:.1f} s", flush=True)
    django_for_bench(bootstrap)
    try:
        yield bootstrap
    finally:
        if broker is not None:
            broker.stop()


def django_for_bench(bootstrap: str, *, request_timeout: str = "30") -> None:
    """Django set up against the bench's cluster and a fresh database."""
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    os.environ.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaview.settings")
    os.environ.setdefault("KAFKAVIEW_REQUEST_TIMEOUT", request_timeout)
    # Pages read the sampler's tables too: a fresh database, never the developer's own.
    db = Path(tempfile.mkdtemp(prefix="kafkaview-bench-db-")) / "bench.sqlite3"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def groups_with_commits(
    bootstrap: str, *, groups: int, topics: int, partitions: int, messages: int
) -> tuple[int, list[str], list[str]]:
    """Topics with messages on every partition and groups with a commit on each of a topic's
    partitions (group i on topic i mod topics); returns (tag, topic names, group ids)."""
    import random

    from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    tag = random.randrange(1 << 30)
    names = [f"bench-lag-{tag}-{i}" for i in range(topics)]
    for f in admin.create_topics([NewTopic(t, partitions, 1) for t in names]).values():
        f.result(timeout=120)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for t in names:
        for p in range(partitions):
            for i in range(messages):
                producer.produce(t, value=b"x" * 20, key=str(i).encode(), partition=p)
            producer.poll(0)
    producer.flush(120)
    ids = [f"bench-group-{tag}-{g}" for g in range(groups)]
    requests = [
        ConsumerGroupTopicPartitions(
            g,
            [
                TopicPartition(names[i % topics], p, random.randint(0, messages))
                for p in range(partitions)
            ],
        )
        for i, g in enumerate(ids)
    ]
    # One group per call: send them all, then wait. A partition's error comes back in
    # the result, not as an exception: send the groups that had one again.
    for _attempt in range(5):
        pending = [(r, admin.alter_consumer_group_offsets([r])) for r in requests]
        failed = []
        for r, futures in pending:
            for f in futures.values():
                if any(tp.error for tp in f.result(timeout=120).topic_partitions):
                    failed.append(r)
        requests = failed
        if not requests:
            break
    return tag, names, ids


def session_cookie() -> str:
    """A logged-in session for a fresh user, made directly in the database."""
    return session_cookies(1)[0]


def session_cookies(n: int) -> list[str]:
    """n logged-in sessions of one fresh user (n people, or n browsers), each with the CSRF
    cookie a browser keeps (without it every page would make a new one)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils.crypto import get_random_string

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(username=f"bench-{time.time_ns()}", password="x")
    cookies = []
    for _ in range(n):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies.append(f"sessionid={store.session_key}; csrftoken={get_random_string(32)}")
    return cookies


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of each run, and the last result."""
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return times, result


def view_request(view: Callable[..., Any], path: str, **kwargs: Any) -> Any:
    """Call a view function as Django would, with a logged-in user and no HTTP server."""
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    request = RequestFactory().get(path)
    # A saved superuser: pages ask its permissions (the buttons they offer) of the database.
    request.user, _ = User.objects.get_or_create(
        username="bench-viewer", defaults={"is_superuser": True}
    )
    response = view(request, **kwargs)
    assert response.status_code == 200, response.content[:500]
    return response


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def rss_mb(pid: int) -> float:
    """A process's resident memory in MiB (/proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def daphne_for_bench(
    *, bootstrap: str, port: int, log_dir: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Daphne serving kafkaview on port against the bench's broker and database."""
    from devtools.daphne import daphne_start, http_wait

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKAVIEW_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    log = open(log_dir / "daphne.log", "wb")  # noqa: SIM115 - lives as long as Daphne
    proc = daphne_start(port=port, cwd=BASE_DIR, env=env, log=log)
    http_wait(f"http://127.0.0.1:{port}/healthz", timeout=30, process=proc)
    return proc
