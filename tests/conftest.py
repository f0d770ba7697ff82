"""One real Kafka broker per test session; a real Daphne server for browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings
from django.test import override_settings

from dashboard.kafka.clusters import admin_clients_forget
from dashboard.kafka.config import ClusterConfig, Clusters
from dashboard.kafka.local import LocalBroker, die_with_parent, free_port

BASE_DIR = Path(__file__).resolve().parents[1]
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
PASSWORD = "correct-horse-battery-staple"


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    # Drop kafkaview's clients first, or they log failed reconnects to the stopped broker.
    admin_clients_forget()
    broker.stop()


def clusters_for(bootstrap: str, **others: ClusterConfig) -> Clusters:
    """A cluster registry whose `local` points at bootstrap, plus any others."""
    local = ClusterConfig(name="local", bootstrap_servers=bootstrap)
    return Clusters(by_name={"local": local, **others}, default="local", source="environment")


@pytest.fixture(scope="session", autouse=True)
def kafka_settings(kafka_broker: LocalBroker) -> Iterator[None]:
    with override_settings(KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers)):
        yield


@pytest.fixture(scope="session")
def admin(kafka_broker: LocalBroker) -> AdminClient:
    """An independent AdminClient on the test broker: the tests' source of truth."""
    return AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})


@pytest.fixture
def make_topic(admin: AdminClient):
    def make(prefix: str = "t", partitions: int = 1) -> str:
        name = unique(prefix)
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=15)
        return name

    return make


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username=unique("user"), password=PASSWORD)


@pytest.fixture
def operator(client, user):
    """A test client logged in as a member of the operator group (may produce and reset)."""
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client, user):
    """A test client logged in as a member of the viewer group (read only)."""
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def daphne_server(kafka_broker: LocalBroker, django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real Daphne process serving kafkaview against the test broker and test database."""
    port = free_port()
    db_name = settings.DATABASES["default"]["NAME"]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "DATABASE_URL": f"sqlite:///{db_name}",
        "DJANGO_SETTINGS_MODULE": "kafkaview.settings",
    }
    env.pop("KAFKAVIEW_CLUSTERS_FILE", None)
    log = open(BASE_DIR / ".cache" / "test-daphne.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "kafkaview.asgi:application",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Daphne did not start; see {log.name}") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def browser_page():
    # Request this fixture last: Playwright's sync API runs an event loop, and Django
    # refuses database calls (e.g. creating a user) while one runs in the thread.
    """A Playwright page in Debian's Chromium (Playwright's own browser download is unavailable)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            yield page
        finally:
            browser.close()
