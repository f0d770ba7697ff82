"""Two Daphne processes on one database serve the same pages, history and audit."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.helpers import PASSWORD, unique, worker_log

pytestmark = pytest.mark.django_db(transaction=True)


def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def log_in(web: urllib.request.OpenerDirector, base: str, username: str) -> None:
    form = web.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token
    data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    request = urllib.request.Request(
        f"{base}/accounts/login/",
        data=urllib.parse.urlencode(data).encode(),
        headers={"Referer": f"{base}/accounts/login/"},
    )
    web.open(request).read()


def get_json(web: urllib.request.OpenerDirector, url: str) -> dict:
    with web.open(url) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


def test_a_session_history_and_audit_are_shared_by_two_web_processes(
    daphne_server, second_daphne_server, kafka_broker, make_topic, django_user_model
) -> None:
    from django.contrib.auth.models import Group

    from tests.conftest import roles_ensure
    from tests.integration.test_history import sampler_for

    roles_ensure()
    user = django_user_model.objects.create_user(username=unique("two"), password=PASSWORD)
    user.groups.add(Group.objects.get(name="operator"))
    bootstrap = kafka_broker.bootstrap_servers
    topic, group = make_topic("two-processes"), unique("g-two")
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(5):
        producer.produce(topic, value=f"m{i}".encode())
    producer.flush(15)
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    committer.close()
    sampler = sampler_for()
    try:
        assert sampler.round().ok
    finally:
        sampler.stop()
    web = opener()
    log_in(web, daphne_server, user.username)  # logged in on the first process...
    one, two = daphne_server, second_daphne_server
    # ...and the same session works on the second: sessions live in the database.
    for path in (
        f"/api/clusters/local/groups/{group}/",
        f"/api/clusters/local/groups/{group}/history/?range=15m",
        f"/api/clusters/local/topics/{topic}/history/?range=15m",
    ):
        a, b = get_json(web, one + path), get_json(web, two + path)
        for answer in (a, b):
            answer.pop("read_at", None)
            rows = answer.get("partitions")
            for row in rows if isinstance(rows, list) else []:
                row.pop("lag_seconds", None)  # the age of a message grows between the two
        assert a == b, path
    history = get_json(web, f"{two}/api/clusters/local/groups/{group}/history/?range=15m")
    assert history["total_lag"][-1] == 3
    # A write through one process is in the audit the other shows.
    produce_through(web, one, topic, "hello")
    audit = web.open(f"{two}/audit/").read().decode()
    assert topic in audit


def produce_through(web: urllib.request.OpenerDirector, base: str, topic: str, value: str) -> None:
    """Send one message with the produce form of the process at base."""
    form = web.open(f"{base}/clusters/local/topics/{topic}/produce/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token
    body = {
        "mode": "single",
        "key": "k",
        "value": value,
        "encoding": "text",
        "partition": "auto",
        "partitioner": "murmur2",
        "headers": "",
        "csrfmiddlewaretoken": token.group(1),
    }
    with web.open(
        urllib.request.Request(
            f"{base}/clusters/local/topics/{topic}/produce/",
            data=urllib.parse.urlencode(body).encode(),
            headers={"Referer": f"{base}/clusters/local/topics/{topic}/produce/"},
        )
    ) as answer:
        assert answer.status == 200


def kafka_requests_total(web: urllib.request.OpenerDirector, base: str) -> float:
    text = web.open(f"{base}/metrics").read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kafkaview_kafka_requests_total{")
    )


def test_processes_on_one_port_share_reads_and_see_each_others_writes_at_once(
    kafka_broker, make_topic, django_user_model, tmp_path
) -> None:
    from django.contrib.auth.models import Group

    from devtools.broker import free_port
    from devtools.daphne import daphne_pool_start, http_wait
    from devtools.processes import children_stop
    from tests.conftest import roles_ensure
    from tests.integration.conftest import BASE_DIR, daphne_env

    roles_ensure()
    user = django_user_model.objects.create_user(username=unique("pool"), password=PASSWORD)
    user.groups.add(Group.objects.get(name="operator"))
    topic = make_topic("pool")
    port, own = free_port(), [free_port(), free_port()]
    # Reads kept a minute: a page that showed a read from before a write would be caught.
    env = daphne_env(
        kafka_broker, KAFKAVIEW_READ_MAX_AGE="60", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    )
    with open(worker_log("test-daphne-pool.log"), "wb") as log:
        servers = daphne_pool_start(
            port=port, processes=2, cwd=BASE_DIR, env=env, log=log, own_ports=own
        )
    try:
        for server, own_port in zip(servers, own, strict=True):
            http_wait(f"http://127.0.0.1:{own_port}/healthz", timeout=30, process=server)
        web = opener()
        shared = f"http://127.0.0.1:{port}"
        one, two = (f"http://127.0.0.1:{p}" for p in own)
        log_in(web, shared, user.username)  # through the port both processes accept on
        path = f"/api/clusters/local/topics/{topic}/"
        before = get_json(web, two + path)
        assert before["messages"] == 0
        assert get_json(web, two + path)["read_at"] == before["read_at"]  # kept and reused
        produce_through(web, one, topic, "hello")  # written through the other process
        after = get_json(web, two + path)
        assert after["messages"] == 1
        assert after["read_at"] != before["read_at"]
        assert get_json(web, two + path)["read_at"] == after["read_at"]  # kept again
        assert get_json(web, shared + path)["messages"] == 1
        # Both processes read Kafka; either one's /metrics counts what both sent.
        totals = [kafka_requests_total(web, base) for base in (one, two, shared)]
        assert totals[0] > 0
        assert totals[0] == totals[1] == totals[2]
        assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    finally:
        children_stop(servers, grace=10)
