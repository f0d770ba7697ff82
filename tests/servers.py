"""The real servers the integration and security tests run against, one each per session.

Fixtures here are registered by tests/conftest.py, so a session running tests/integration
and tests/security together starts one broker, one registry and one Daphne, not two.
Nothing starts unless a test asks for it (unit tests never do).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from django.conf import settings

from dashboard.kafka.client.clients import admin_clients_forget
from devtools.broker import LocalBroker, free_port
from devtools.daphne import daphne_start, http_wait
from devtools.registry import LocalRegistry
from tests.helpers import BASE_DIR, CACHE_DIR, unique, worker_log

CHROMIUM = "/usr/bin/chromium"
# Flags for root on a machine with no network: no sandbox, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(cache_dir=CACHE_DIR, data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    # Drop kafkaview's clients first, or they log failed reconnects to the stopped broker.
    admin_clients_forget()
    broker.stop()


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A real Apicurio Registry (Confluent API), started once for the tests that need it."""
    registry = LocalRegistry(
        cache_dir=CACHE_DIR, log=tmp_path_factory.mktemp("registry") / "registry.log"
    )
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def admin(kafka_broker: LocalBroker) -> AdminClient:
    """An independent AdminClient on the test broker: the tests' source of truth."""
    return AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})


@pytest.fixture
def make_topic(admin: AdminClient):
    def make(prefix: str = "t", partitions: int = 1) -> str:
        name = unique(prefix)
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=15)
        # Created is not ready: until the broker leads every partition, reading their
        # offsets answers NOT_LEADER (a 503 on our pages). Wait for that, up to 30 s.
        deadline = time.monotonic() + 30
        wanted = {TopicPartition(name, p): OffsetSpec.latest() for p in range(partitions)}
        while True:
            try:
                # Asking for the topic's metadata refreshes the client's cache, which
                # otherwise keeps answering "no leaders found" for a while.
                meta = admin.list_topics(name, timeout=5).topics[name]
                if meta.error is None and all(p.leader >= 0 for p in meta.partitions.values()):
                    for future in admin.list_offsets(wanted, request_timeout=5).values():
                        future.result(timeout=10)
                    return name
                raise KafkaException(meta.error or "a partition has no leader yet")
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    return make


def daphne_env(broker: LocalBroker, **extra: str) -> dict[str, str]:
    """The environment of a Daphne serving the test broker and the test database."""
    db = settings.DATABASES["default"]
    # The test database, on whichever backend the session runs (SQLite or PostgreSQL).
    url = (
        f"sqlite:///{db['NAME']}"
        if db["ENGINE"].endswith("sqlite3")
        else f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "kafkaview.settings",
        "KAFKAVIEW_READ_MAX_AGE": "0",
        **extra,
    }
    env.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    return env


def daphne_for_tests(broker: LocalBroker, log_name: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real Daphne process serving kafkaview against the test broker and test database."""
    port = free_port()
    env = daphne_env(broker)
    log_path = worker_log(log_name)
    log = open(log_path, "wb")  # noqa: SIM115 - Daphne writes it while it runs
    proc = daphne_start(port=port, cwd=BASE_DIR, env=env, log=log)
    log.close()  # the child holds its own descriptor
    base = f"http://127.0.0.1:{port}"
    try:
        http_wait(f"{base}/healthz", timeout=30, process=proc)
    except RuntimeError as exc:
        raise RuntimeError(f"Daphne did not start ({exc}); see {log_path}") from None
    return proc, base


@pytest.fixture(scope="session")
def database_sessions_closed(django_db_setup, django_db_blocker) -> Iterator[None]:
    """At the session's end, before the test database is dropped, end what still holds it.

    Threads that read the ORM (shared-read tests run views in threads) keep a connection
    each; on PostgreSQL they would stop DROP DATABASE ("being accessed by other users").
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def daphne_server(kafka_broker: LocalBroker, django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real Daphne process serving kafkaview against the test broker and test database."""
    proc, url = daphne_for_tests(kafka_broker, "test-daphne.log")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def second_daphne_server(
    kafka_broker: LocalBroker, django_db_setup, django_db_blocker
) -> Iterator[str]:
    """Another Daphne process on the same database: a second web process."""
    proc, url = daphne_for_tests(kafka_broker, "test-daphne-2.log")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _wait_for_function(page, expression: str, timeout: float = 30_000, **_: object) -> None:
    """page.wait_for_function without eval in the page: Playwright's own evaluates the
    predicate with eval(), which the pages' Content-Security-Policy (rightly) refuses.
    page.evaluate goes through the DevTools protocol, which the policy does not cover."""
    body = expression.strip()
    js = body if body.startswith("()") else f"() => ({body})"
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(js):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout / 1000:g} s for {body[:120]}")
        page.wait_for_timeout(50)


@pytest.fixture
def browser_page():
    # Request this fixture last: Playwright's sync API runs an event loop, and Django
    # refuses database calls (e.g. creating a user) while one runs in the thread.
    """A Playwright page in Debian's Chromium (Playwright's own browser download is unavailable).

    The pages' Content-Security-Policy stays on: a test fails if the page broke it
    (a "Refused to ..." console message), so every browser test checks the policy too.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        refused: list[str] = []
        page.on(
            "console",
            lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.wait_for_function = lambda expression, **kw: _wait_for_function(  # type: ignore[method-assign,assignment]
            page, expression, **kw
        )
        try:
            yield page
        finally:
            browser.close()
        assert refused == [], refused
