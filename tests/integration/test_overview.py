"""The cluster overview against the real broker; unknown and unreachable clusters."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from django.test import override_settings

from dashboard.kafka.config import ClusterConfig
from devtools.broker import LocalBroker, cli_run, free_port
from tests.helpers import CACHE_DIR, clusters_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_overview_json_matches_the_broker(
    logged_in, kafka_broker: LocalBroker, admin: AdminClient, make_topic
) -> None:
    make_topic("overview", partitions=5)
    data = logged_in.get("/api/clusters/local/").json()
    # Truth from elsewhere: the id the broker was formatted with, and an independent client.
    assert data["cluster_id"] == kafka_broker.cluster_id
    assert data["controller_id"] == 1
    assert data["brokers"] == [
        {
            "id": 1,
            "host": "127.0.0.1",
            "port": kafka_broker.port,
            "rack": None,
            "is_controller": True,
        }
    ]
    metadata = admin.list_topics(timeout=10)
    user_topics = [t for t in metadata.topics if not t.startswith("__")]
    assert data["topic_count"] == len(user_topics)
    assert data["internal_topic_count"] == len(metadata.topics) - len(user_topics)
    assert data["partition_count"] == sum(len(t.partitions) for t in metadata.topics.values())
    # Every kind of group (share, streams, connect too), as Kafka's own kafka-groups lists them.
    listed = cli_run(
        cache_dir=CACHE_DIR,
        tool="groups",
        args=["--bootstrap-server", kafka_broker.bootstrap_servers, "--list"],
    )
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines()[1:] if line.strip()]
    assert data["group_count"] == len(rows)
    assert data["group_count"] >= len(admin.list_consumer_groups().result().valid)
    assert data["bootstrap_servers"] == kafka_broker.bootstrap_servers


def test_overview_page_shows_the_broker(logged_in, kafka_broker: LocalBroker) -> None:
    response = logged_in.get("/clusters/local/")
    assert response.status_code == 200
    html = response.content.decode()
    assert kafka_broker.cluster_id in html
    assert f'<td class="num">{kafka_broker.port}</td>' in html
    assert "controller" in html


def test_index_redirects_to_the_default_cluster(logged_in) -> None:
    response = logged_in.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/clusters/local/"


def test_unknown_cluster_is_a_404(logged_in) -> None:
    page = logged_in.get("/clusters/atlantis/")
    assert page.status_code == 404
    assert "atlantis" in page.content.decode()
    api = logged_in.get("/api/clusters/atlantis/")
    assert api.status_code == 404
    assert api.json()["error"]["type"] == "cluster_not_found"


def test_odd_cluster_names_are_404_not_500(logged_in) -> None:
    for name in ["%3Cscript%3E", "a%20b", "..", "x" * 300, "%E2%98%83"]:
        response = logged_in.get(f"/clusters/{name}/")
        assert response.status_code == 404, name
        assert b"<script>" not in response.content


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: a hung broker."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_down_cluster_is_a_503_within_5_seconds(logged_in, kafka_broker, kind, request) -> None:
    port = free_port() if kind == "refused" else request.getfixturevalue("silent_server")
    down = ClusterConfig(name="down", bootstrap_servers=f"127.0.0.1:{port}")
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, down=down)
    ):
        began = time.monotonic()
        page = logged_in.get("/clusters/down/")
        api = logged_in.get("/api/clusters/down/")
        elapsed = time.monotonic() - began
    assert page.status_code == 503
    html = page.content.decode()
    assert "down" in html
    assert f"127.0.0.1:{port}" in html
    assert api.status_code == 503
    body = api.json()["error"]
    assert body["type"] == "cluster_unavailable"
    assert body["cluster"] == "down"
    assert body["tried"] == f"127.0.0.1:{port}"
    # Both requests together: each must answer well within the 5 s promise.
    assert elapsed < 10


def test_secrets_never_reach_a_page_or_the_log(logged_in, kafka_broker, caplog) -> None:
    secret = "s3cr3t-do-not-show"
    sasl = ClusterConfig(
        name="sasl",
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        settings={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "u",
        },
        secrets={"sasl.password": secret},
        secret_sources={"sasl.password": "SASL_PASSWORD"},
    )
    with (
        override_settings(
            KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, sasl=sasl)
        ),
        caplog.at_level("DEBUG"),
    ):
        page = logged_in.get("/clusters/sasl/")
        api = logged_in.get("/api/clusters/sasl/")
    assert page.status_code == 503
    assert secret not in page.content.decode()
    assert secret not in api.content.decode()
    assert secret not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/clusters/down/topics/",
        "/clusters/down/topics/some-topic/",
        "/clusters/down/groups/",
        "/clusters/down/groups/some-group/",
        "/api/clusters/down/groups/",
    ],
)
def test_every_page_of_a_down_cluster_is_a_503(logged_in, kafka_broker, path) -> None:
    down = ClusterConfig(name="down", bootstrap_servers=f"127.0.0.1:{free_port()}")
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, down=down),
        KAFKAVIEW_REQUEST_TIMEOUT=1.0,  # the 5 s promise is tested above; keep this one quick
    ):
        response = logged_in.get(path)
    assert response.status_code == 503
    assert down.bootstrap_servers in response.content.decode()
