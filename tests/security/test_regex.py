"""One regex cannot freeze a web process (finding 2): filters run on RE2, in linear time."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import time
import urllib.request

import pytest
from confluent_kafka import Producer
from websockets.sync.client import connect

from tests.helpers import PASSWORD, unique
from tests.integration.test_tail import Tail, run
from tests.integration.test_web_processes import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Each is exponential for a backtracking engine on the records below.
EVIL = [r"^(a+)+$", r"(a|a)*b", r"(a|aa)+$", r"^(\w+\s?)*$"]


def test_a_catastrophic_filter_never_holds_the_web_process(
    daphne_server, kafka_broker, make_topic, django_user_model
) -> None:
    topic = make_topic("regex-evil")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for _ in range(200):
        producer.produce(topic, value=b"a" * 40 + b"!")
        producer.produce(topic, value=b"word " * 12 + b"!")
    assert producer.flush(15) == 0
    user = django_user_model.objects.create_user(username=unique("rx"), password=PASSWORD)
    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    log_in(web, daphne_server, user.username)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    health: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        # /healthz on the same process, all through the attack: each must answer.
        while not stop.is_set():
            started = time.monotonic()
            with urllib.request.urlopen(f"{daphne_server}/healthz", timeout=5) as answer:
                assert answer.status == 200
            health.append(time.monotonic() - started)
            stop.wait(0.05)  # pacing between probes, not a wait for anything

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    ws_url = daphne_server.replace("http://", "ws://") + f"/ws/clusters/local/topics/{topic}/tail/"
    dones = []
    try:
        with connect(
            ws_url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}
        ) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            for pattern in EVIL:
                flt = {"text": pattern, "regex": True, "on": "value"}
                ws.send(
                    json.dumps({"type": "start", "start": "earliest", "end": "now", "filter": flt})
                )
                while (frame := json.loads(ws.recv(timeout=60)))["type"] != "done":
                    assert frame["type"] != "error", frame
                    if frame["type"] == "batch":
                        ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
                dones.append(frame)
    finally:
        stop.set()
        prober.join(timeout=10)
    assert [d["scanned"] for d in dones] == [400] * len(EVIL)
    assert health, "the server never answered /healthz during the attack"
    # Every probe was answered (urlopen would have raised after 5 s otherwise).
    assert max(health) < 5


def test_a_pattern_re2_cannot_run_gets_a_clear_error_frame(make_topic) -> None:
    topic = make_topic("regex-refused")

    async def scenario() -> list[dict]:
        tail = Tail(topic)
        await tail.open()
        frames = []
        for pattern in (r"(a)\1", r"(?=a)b", "a{1001}"):
            frames.append(await tail.start(filter={"text": pattern, "regex": True}))
        frames.append(await tail.start(start="earliest"))  # the socket is still alive
        await tail.close()
        return frames

    *refused, alive = run(scenario)
    assert [f["type"] for f in refused] == ["error"] * 3
    assert "RE2" in refused[0]["message"] or "regular expression" in refused[0]["message"]
    assert alive["type"] == "started"
