"""The tail websocket against the real broker: protocol, positions, filters, bounds, faults."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from confluent_kafka import ConsumerGroupTopicPartitions, Producer
from confluent_kafka.admin import AdminClient
from django.contrib.auth.models import User
from django.test import override_settings

from dashboard.kafka.config import ClusterConfig
from dashboard.routing import websocket_urlpatterns
from devtools.broker import LocalBroker
from tests.helpers import CACHE_DIR, clusters_for, unique

APP = URLRouter(websocket_urlpatterns)
# A tail records who read what (the audit's read records) from the consumer's thread.
pytestmark = pytest.mark.django_db(transaction=True)


def produce(
    bootstrap: str, topic: str, messages: Sequence[tuple[Any, Any, int | None]], **kw: Any
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for key, value, partition in messages:
        extra: dict[str, Any] = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=key, value=value, **extra, **kw)
    producer.flush(15)


class Tail:
    """A logged-in websocket client of the tail, driven from async test code."""

    def __init__(self, topic: str, cluster: str = "local") -> None:
        self.comm = WebsocketCommunicator(APP, f"/ws/clusters/{cluster}/topics/{topic}/tail/")
        self.comm.scope["user"] = User(username="tester")
        self.records: list[dict] = []
        self.frames: list[dict] = []

    async def open(self) -> dict:
        connected, _ = await self.comm.connect(timeout=5)
        assert connected
        hello = await self.comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        return hello

    async def start(self, **params: Any) -> dict:
        await self.comm.send_json_to({"type": "start", **params})
        return await self.next_of("started", "error")

    async def next_of(self, *types: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {types} frame; got {[f['type'] for f in self.frames[-5:]]}"
            frame = await self.comm.receive_json_from(timeout=left)
            self.frames.append(frame)
            if frame["type"] == "batch":
                self.records.extend(frame["records"])
            if frame["type"] in types:
                return frame

    async def collect(self, count: int, *, timeout: float = 60, ack: bool = True) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            frame = await self.next_of("batch", timeout=max(deadline - time.monotonic(), 0.01))
            if ack:
                await self.comm.send_json_to({"type": "ack", "seq": frame["seq"]})
        return self.records

    async def close(self) -> None:
        await self.comm.disconnect()


def run(coro_fn, **kwargs: Any):
    """Run an async test scenario from a sync test (Django's DB stays on this thread)."""
    return async_to_sync(coro_fn)(**kwargs)


def tail_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tail-")]


def test_latest_then_new_messages_arrive_rendered(kafka_broker: LocalBroker, make_topic) -> None:
    topic = make_topic("tail", partitions=2)
    produce(kafka_broker.bootstrap_servers, topic, [(b"old", b"before the tail", None)])

    async def scenario() -> list[dict]:
        tail = Tail(topic)
        await tail.open()
        started = await tail.start()
        assert started["type"] == "started"
        assert [p["partition"] for p in started["partitions"]] == [0, 1]
        await asyncio.to_thread(
            produce,
            kafka_broker.bootstrap_servers,
            topic,
            [
                (b"k-json", b'{"a": 1, "b": [1, 2]}', 0),
                (b"k-text", "héllo <b>".encode(), 0),
                (b"k-bin", b"\x00\xff\x10", 1),
                (None, None, 1),
            ],
            headers=[("h1", b"v1"), ("h1", b""), ("bin", b"\xff")],
        )
        records = await tail.collect(4)
        await tail.close()
        return records

    records = run(scenario)
    assert len(records) == 4
    by_key = {(r["key"]["text"] if r["key"]["kind"] != "null" else None): r for r in records}
    assert None in by_key and "old" not in by_key
    assert by_key["k-json"]["value"]["kind"] == "json"
    assert '"b": [\n    1,' in by_key["k-json"]["value"]["text"]
    assert by_key["k-text"]["value"] == {
        "kind": "text",
        "text": "héllo <b>",
        "size": 10,
        "truncated": False,
    }
    assert by_key["k-bin"]["value"] == {
        "kind": "hex",
        "text": "00 ff 10",
        "size": 3,
        "truncated": False,
    }
    assert by_key[None]["value"]["kind"] == "null"
    headers = by_key["k-text"]["headers"]
    assert [h[0] for h in headers] == ["h1", "h1", "bin"]
    assert headers[2][1]["kind"] == "hex"
    assert by_key["k-text"]["timestamp_type"] == "create_time"
    assert abs(by_key["k-text"]["timestamp"] / 1000 - time.time()) < 60


def test_start_positions(kafka_broker: LocalBroker, make_topic) -> None:
    topic = make_topic("positions", partitions=2)
    produce(kafka_broker.bootstrap_servers, topic, [(f"a{i}".encode(), b"x", 0) for i in range(10)])
    produce(kafka_broker.bootstrap_servers, topic, [(f"b{i}".encode(), b"y", 1) for i in range(4)])
    time.sleep(0.05)
    middle_ms = int(time.time() * 1000)
    time.sleep(0.05)
    produce(kafka_broker.bootstrap_servers, topic, [(b"late", b"z", 0)])

    async def offsets_for(**params: Any) -> list[tuple[int, int]]:
        tail = Tail(topic)
        await tail.open()
        started = await tail.start(**params)
        assert started["type"] == "started", started
        expected = sum(p["high"] - p["offset"] for p in started["partitions"])
        records = await tail.collect(expected) if expected else []
        await tail.close()
        return [(r["partition"], r["offset"]) for r in records]

    earliest = run(offsets_for, start="earliest")
    assert sorted(earliest) == [(0, i) for i in range(11)] + [(1, i) for i in range(4)]
    # Order within each partition is offset order.
    for p in (0, 1):
        seen = [o for part, o in earliest if part == p]
        assert seen == sorted(seen)
    assert sorted(run(offsets_for, start="last", last=2)) == [(0, 9), (0, 10), (1, 2), (1, 3)]
    assert run(offsets_for, start="offset", offset=8, partitions=[0]) == [(0, 8), (0, 9), (0, 10)]
    assert run(offsets_for, start="timestamp", timestamp=middle_ms) == [(0, 10)]
    iso = datetime.fromtimestamp(middle_ms / 1000, tz=UTC).isoformat()
    assert run(offsets_for, start="timestamp", timestamp=iso) == [(0, 10)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "offset", "offset": 99}, "offset 99 is out of range for partition 0"),
        ({"start": "offset", "offset": "abc"}, "offset must be a whole number"),
        ({"start": "timestamp", "timestamp": "yesterday"}, "neither milliseconds"),
        ({"start": "sometime"}, "start must be one of"),
        ({"partitions": [7]}, "partition 7 does not exist"),
        ({"filter": {"text": "(unclosed", "regex": True}}, "not a valid regular expression"),
        ({"filter": {"text": "x", "on": "elsewhere"}}, "filter.on must be one of"),
        ({"start": "last", "last": 0}, "last must be at least 1"),
    ],
)
def test_bad_parameters_get_an_error_frame(kafka_broker, make_topic, params, message) -> None:
    topic = make_topic("bad")

    async def scenario() -> dict:
        tail = Tail(topic)
        await tail.open()
        frame = await tail.start(**params)
        # The socket stays usable after an error: a good start still works.
        good = await tail.start(start="latest")
        await tail.close()
        assert good["type"] == "started"
        return frame

    frame = run(scenario)
    assert frame["type"] == "error"
    assert message in frame["message"]
    assert frame["error"] == "invalid_request"


def test_unknown_topic_and_garbage_frames(kafka_broker) -> None:
    async def scenario() -> list[dict]:
        tail = Tail(unique("missing"))
        await tail.open()
        frames = [await tail.start()]
        await tail.comm.send_to(text_data="not json at all")
        frames.append(await tail.next_of("error"))
        await tail.comm.send_json_to({"type": "fly"})
        frames.append(await tail.next_of("error"))
        await tail.comm.send_json_to({"type": "pause"})
        frames.append(await tail.next_of("error"))
        await tail.close()
        return frames

    unknown, garbage, odd, pause = run(scenario)
    assert unknown["error"] == "topic_not_found"
    assert "does not exist" in unknown["message"]
    assert "JSON objects" in garbage["message"]
    assert "Unknown message type" in odd["message"]
    assert "start a tail first" in pause["message"]


def test_filters_run_on_the_server(kafka_broker, make_topic) -> None:
    topic = make_topic("filter")
    messages = [
        (b"user-1", b"login ok", 0),
        (b"user-2", b"logout", 0),
        (b"admin", b"LOGIN fail", 0),
    ]
    produce(kafka_broker.bootstrap_servers, topic, messages)

    async def keys(flt: dict) -> list[str]:
        tail = Tail(topic)
        await tail.open()
        started = await tail.start(start="earliest", filter=flt)
        assert started["type"] == "started"
        stats: dict = {}
        while stats.get("consumed", 0) < 3:
            stats = await tail.next_of("stats")
        await asyncio.sleep(0.2)
        while tail.records and len(tail.records) < stats["matched"]:
            await tail.next_of("batch")
        await tail.close()
        return [r["key"]["text"] for r in tail.records]

    assert run(keys, flt={"text": "login"}) == ["user-1"]
    assert run(keys, flt={"text": "(?i)^login", "regex": True, "on": "value"}) == [
        "user-1",
        "admin",
    ]
    assert run(keys, flt={"text": "user-", "on": "key"}) == ["user-1", "user-2"]
    assert run(keys, flt={"text": "user-", "on": "value"}) == []


def test_tailing_joins_no_group_and_commits_nothing(
    kafka_broker, admin: AdminClient, make_topic
) -> None:
    topic = make_topic("invisible")
    produce(kafka_broker.bootstrap_servers, topic, [(b"k", b"v", 0)] * 5)
    before = {g.group_id for g in admin.list_consumer_groups().result().valid}

    async def scenario() -> None:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest")
        await tail.collect(5)
        await asyncio.sleep(1.0)
        await tail.close()

    run(scenario)
    after = {g.group_id for g in admin.list_consumer_groups().result().valid}
    new = after - before
    assert not any(g.startswith("kafkaview-tail") for g in after)
    for group in new:  # other tests' groups may appear meanwhile; none may hold this topic
        offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        assert all(tp.topic != topic for tp in offsets[group].result().topic_partitions)


def test_disconnect_stops_the_consumer_within_a_second(kafka_broker, make_topic) -> None:
    topic = make_topic("stop")
    before = len(tail_threads())

    async def scenario() -> float:
        tail = Tail(topic)
        await tail.open()
        await tail.start()
        assert len(tail_threads()) == before + 1
        began = time.monotonic()
        await tail.close()
        while len(tail_threads()) > before:
            await asyncio.sleep(0.02)
        return time.monotonic() - began

    assert run(scenario) < 1.0


def test_pause_and_resume(kafka_broker, make_topic) -> None:
    topic = make_topic("pause")

    async def scenario() -> tuple[int, int, str]:
        tail = Tail(topic)
        await tail.open()
        await tail.start()
        await tail.comm.send_json_to({"type": "pause"})
        stats = await tail.next_of("stats")
        while stats["state"] != "paused":
            stats = await tail.next_of("stats")
        await asyncio.to_thread(
            produce, kafka_broker.bootstrap_servers, topic, [(b"k", b"v", 0)] * 3
        )
        await asyncio.sleep(1.0)
        while_paused = len(tail.records)
        await tail.comm.send_json_to({"type": "resume"})
        await tail.collect(3)
        await tail.close()
        return while_paused, len(tail.records), stats["state"]

    while_paused, after, state = run(scenario)
    assert state == "paused"
    assert while_paused == 0
    assert after == 3


def test_a_reader_that_stops_acking_holds_the_tail_and_then_gets_everything(
    kafka_broker, make_topic
) -> None:
    topic = make_topic("slow")
    total = 40_000  # more than 4 unacked batches of 5,000 plus a 10,000-record buffer

    async def scenario() -> tuple[int, dict, dict, list[dict]]:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest")
        await asyncio.to_thread(
            produce, kafka_broker.bootstrap_servers, topic, [(None, b"m" * 50, 0)] * total
        )
        # Read frames but never ack: the server sends only its window, then holds.
        stats: dict = {}
        deadline = time.monotonic() + 30
        while not stats.get("held") and time.monotonic() < deadline:
            stats = await tail.next_of("stats", timeout=20)
        batches = sum(1 for f in tail.frames if f["type"] == "batch")
        # While held, the log end is asked of the broker every 2 s: the tail may have been
        # held before the producer was done, so wait for a refresh that saw all of it.
        held = await tail.next_of("stats")
        while held["behind"]["messages"] + held["delivered"] < total:
            if time.monotonic() > deadline:
                break
            held = await tail.next_of("stats")
        # Now ack everything: every record arrives, once, in order.
        for frame in [f for f in tail.frames if f["type"] == "batch"]:
            await tail.comm.send_json_to({"type": "ack", "seq": frame["seq"]})
        records = await tail.collect(total, timeout=60)
        after = await tail.next_of("stats")
        await tail.close()
        return batches, held, after, records

    batches, held, after, records = run(scenario)
    assert batches <= 4
    assert held["held"] is True and held["dropped"] == 0
    assert held["consumed"] < total  # it stopped fetching instead of dropping
    assert held["buffered"] <= 10_000 + 500  # a buffer, plus one poll's batch at most
    assert held["behind"]["messages"] > 0
    assert held["behind"]["messages"] == total - held["delivered"]
    assert [r["offset"] for r in records] == list(range(total))
    assert after["dropped"] == 0 and after["delivered"] == total


def test_a_backlog_of_mixed_messages_arrives_whole_in_order(kafka_broker, make_topic) -> None:
    topic = make_topic("backlog", partitions=3)
    kinds = [
        (b"json", b'{"n": %d, "card": "4111"}'),
        (b"text", b"plain text %d"),
        (None, b"\x00\xff binary %d"),
        (b"null-value", None),
    ]
    sent = []
    for i in range(30_000):
        key, value = kinds[i % 4]
        sent.append((key, value % i if value is not None and b"%d" in value else value, i % 3))
    produce(kafka_broker.bootstrap_servers, topic, sent, headers=[("h", b"v")])

    async def scenario() -> list[dict]:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest")
        records = await tail.collect(30_000, timeout=120)
        await asyncio.sleep(0.5)
        stats = await tail.next_of("stats")
        assert stats["dropped"] == 0 and stats["behind"]["messages"] == 0
        await tail.close()
        return records

    records = run(scenario)
    assert len(records) == 30_000
    seen = {(r["partition"], r["offset"]) for r in records}
    assert len(seen) == 30_000  # each once
    for partition in range(3):
        offsets = [r["offset"] for r in records if r["partition"] == partition]
        assert offsets == list(range(10_000))  # in order, none skipped
    by_position = {(r["partition"], r["offset"]): r for r in records}
    # Contents equal what was produced (per partition, in produce order).
    for partition in range(3):
        mine = [m for m in sent if m[2] == partition]
        for offset in (0, 1, 2, 3, 4_999, 9_999):
            key, value, _ = mine[offset]
            got = by_position[(partition, offset)]
            assert got["key"]["kind"] == ("null" if key is None else "text")
            if value is None:
                assert got["value"]["kind"] == "null"
            elif value.startswith(b"\x00"):
                assert got["value"] == {
                    "kind": "hex",
                    "text": value.hex(" "),
                    "size": len(value),
                    "truncated": False,
                }
            assert got["headers"] == [
                ["h", {"kind": "text", "text": "v", "size": 1, "truncated": False}]
            ]


def test_a_reader_that_acks_once_a_second_still_gets_everything(kafka_broker, make_topic) -> None:
    topic = make_topic("lazy")
    total = 25_000
    produce(kafka_broker.bootstrap_servers, topic, [(None, b"x" * 30, 0)] * total)

    async def scenario() -> list[dict]:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest")
        deadline = time.monotonic() + 60
        while len(tail.records) < total and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            # Take what came (receive_nothing does not cancel the app), then ack it all.
            while not await tail.comm.receive_nothing(timeout=0.05, interval=0.01):
                frame = await tail.comm.receive_json_from(timeout=5)
                tail.frames.append(frame)
                if frame["type"] == "batch":
                    tail.records.extend(frame["records"])
            batches = [f["seq"] for f in tail.frames if f["type"] == "batch"]
            if batches:
                await tail.comm.send_json_to({"type": "ack", "seq": max(batches)})
        await tail.close()
        return tail.records

    records = run(scenario)
    assert [r["offset"] for r in records] == list(range(total))


def test_page_mode_sends_a_page_then_waits_for_more(kafka_broker, make_topic) -> None:
    topic = make_topic("pages")
    produce(kafka_broker.bootstrap_servers, topic, [(None, b"p", 0)] * 1_200)

    async def scenario() -> tuple[int, dict, int, list[dict]]:
        tail = Tail(topic)
        await tail.open()
        started = await tail.start(start="earliest", limit=500)
        assert started["limit"] == 500
        await tail.collect(500)
        await asyncio.sleep(1.0)
        stats = await tail.next_of("stats")
        first_page = len(tail.records)
        await tail.comm.send_json_to({"type": "more", "count": 500})
        await tail.collect(1_000)
        await tail.comm.send_json_to({"type": "more", "count": 500})
        records = await tail.collect(1_200)
        await tail.close()
        return first_page, stats, len(records), records

    first_page, stats, count, records = run(scenario)
    assert first_page == 500
    assert stats["allowance"] == 0 and stats["behind"]["messages"] == 700
    assert count == 1_200
    assert [r["offset"] for r in records] == list(range(1_200))


def test_jump_to_latest_restarts_at_the_log_end(kafka_broker, make_topic) -> None:
    topic = make_topic("jump")
    produce(kafka_broker.bootstrap_servers, topic, [(None, b"old", 0)] * 300)

    async def scenario() -> tuple[dict, list[dict]]:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest", limit=100)
        await tail.collect(100)
        # "jump to latest" is a new start at the end, same partitions and filter.
        started = await tail.start(start="latest")
        tail.records.clear()
        await asyncio.to_thread(
            produce, kafka_broker.bootstrap_servers, topic, [(None, b"new", 0)] * 5
        )
        records = await tail.collect(5)
        await tail.close()
        return started, records

    started, records = run(scenario)
    assert started["partitions"][0]["offset"] == 300
    assert [(r["offset"], r["value"]["text"]) for r in records] == [
        (300 + i, "new") for i in range(5)
    ]


def test_broker_outage_then_the_tail_resumes(tmp_path: Path, kafka_broker, make_topic) -> None:
    broker = LocalBroker(cache_dir=CACHE_DIR, data_dir=tmp_path)
    broker.start()
    flaky = ClusterConfig(name="flaky", bootstrap_servers=broker.bootstrap_servers)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    from confluent_kafka.admin import NewTopic

    topic = unique("outage")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    del admin

    async def scenario() -> tuple[dict, list[dict]]:
        tail = Tail(topic, cluster="flaky")
        await tail.open()
        await tail.start()
        await asyncio.to_thread(produce, broker.bootstrap_servers, topic, [(b"before", b"1", 0)])
        await tail.collect(1)
        await asyncio.to_thread(broker.stop)
        error = await tail.next_of("error", timeout=30)
        await asyncio.to_thread(broker.start)
        await asyncio.to_thread(produce, broker.bootstrap_servers, topic, [(b"after", b"2", 0)])
        records = await tail.collect(2, timeout=30)
        await tail.close()
        return error, records

    try:
        with override_settings(
            KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers, flaky=flaky)
        ):
            error, records = run(scenario)
    finally:
        broker.stop()
    assert error["error"] == "cluster_unavailable"
    assert "flaky" in error["message"]
    assert [(r["key"]["text"], r["offset"]) for r in records] == [("before", 0), ("after", 1)]


def search(topic: str, **params: Any) -> tuple[dict, list[dict], list[dict]]:
    """Run a search to its done frame; (done, records, stats frames)."""

    async def scenario() -> tuple[dict, list[dict], list[dict]]:
        tail = Tail(topic)
        await tail.open()
        started = await tail.start(**params)
        assert started["type"] == "started", started
        done: dict = {}
        while not done:
            frame = await tail.next_of("batch", "done", timeout=60)
            if frame["type"] == "batch":
                await tail.comm.send_json_to({"type": "ack", "seq": frame["seq"]})
            else:
                done = frame
        stats = [f for f in tail.frames if f["type"] == "stats"]
        await tail.close()
        return done, tail.records, stats

    return run(scenario)


def test_a_search_finds_the_match_at_the_very_last_offset(kafka_broker, make_topic) -> None:
    topic = make_topic("search", partitions=2)
    messages = [(f"k{i}".encode(), f"ordinary {i}".encode(), i % 2) for i in range(20_000)]
    messages.append((b"needle-key", b"the needle", 1))  # the last offset of partition 1
    produce(kafka_broker.bootstrap_servers, topic, messages)
    done, records, stats = search(
        topic, start="earliest", end="now", filter={"text": "needle", "on": "value"}
    )
    assert done["reason"] == "end"
    assert (done["scanned"], done["matched"]) == (20_001, 1)
    assert [(r["partition"], r["offset"], r["value"]["text"]) for r in records] == [
        (1, 10_000, "the needle")
    ]
    progress = done["progress"]
    assert progress["scanned"] == progress["total"] == 20_001
    assert stats and all(s["dropped"] == 0 and s["progress"] is not None for s in stats)
    assert {p["partition"]: p["position"] for p in progress["partitions"]} == {0: 10_000, 1: 10_001}


def test_a_search_without_a_match_ends_and_says_what_it_scanned(kafka_broker, make_topic) -> None:
    topic = make_topic("nomatch")
    produce(kafka_broker.bootstrap_servers, topic, [(None, b"hay", 0)] * 5_000)
    done, records, _ = search(
        topic, start="offset", offset=1_000, end={"offset": 4_000}, filter={"text": "needle"}
    )
    assert (done["reason"], done["scanned"], done["matched"], records) == ("end", 3_000, 0, [])


def test_a_search_respects_its_end_while_producers_keep_writing(kafka_broker, make_topic) -> None:
    topic = make_topic("moving")
    produce(kafka_broker.bootstrap_servers, topic, [(None, b"before", 0)] * 2_000)
    writing = threading.Event()

    def keep_writing() -> None:
        while not writing.is_set():
            produce(kafka_broker.bootstrap_servers, topic, [(None, b"after", 0)] * 200)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        done, records, _ = search(topic, start="earliest", end="now")
    finally:
        writing.set()
        writer.join(timeout=30)
    # "now" is the log end when the search began: nothing written later is in it.
    assert done["reason"] == "end"
    assert done["scanned"] == len(records) >= 2_000
    assert {r["value"]["text"] for r in records[:2_000]} == {"before"}
    assert [r["offset"] for r in records] == list(range(len(records)))


def test_a_search_on_headers_stops_after_its_matches(kafka_broker, make_topic) -> None:
    topic = make_topic("headers")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(300):
        producer.produce(topic, value=b"v", headers=[("trace", b"abc" if i % 3 == 0 else b"x")])
    producer.flush(15)
    done, records, _ = search(
        topic,
        start="earliest",
        end="now",
        filter={"text": "trace: abc", "on": "header"},
        max_matches=10,
    )
    assert (done["reason"], done["matched"], len(records)) == ("max_matches", 10, 10)
    assert [r["offset"] for r in records] == list(range(0, 30, 3))


def test_a_bad_end_is_a_clear_error(kafka_broker, make_topic) -> None:
    topic = make_topic("badend")

    async def scenario() -> dict:
        tail = Tail(topic)
        await tail.open()
        error = await tail.start(start="earliest", end={"when": "soon"})
        await tail.close()
        return error

    error = run(scenario)
    assert error["type"] == "error" and error["error"] == "invalid_request"
    assert "end must be" in error["message"]


def test_a_reader_caught_up_with_transactions_is_zero_behind(kafka_broker, make_topic) -> None:
    """Commit and abort markers take offsets that are no records: caught up is 0 behind."""
    topic = make_topic("txn-tail")
    producer = Producer(
        {"bootstrap.servers": kafka_broker.bootstrap_servers, "transactional.id": unique("tx")}
    )
    producer.init_transactions(30)
    for values, commit in (([b"a1", b"a2", b"a3", b"a4", b"a5"], True), ([b"x1", b"x2"], False)):
        producer.begin_transaction()
        for value in values:
            producer.produce(topic, value=value, partition=0)
        producer.flush(15)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"b1", partition=0)
    producer.commit_transaction(30)
    # Offsets: a1-a5 0-4, commit 5, x1-x2 6-7 (aborted), abort 8, b1 9, commit 10: end 11.

    async def scenario() -> tuple[list[dict], dict]:
        tail = Tail(topic)
        await tail.open()
        await tail.start(start="earliest")
        records = await tail.collect(6, timeout=60)
        for _ in range(30):  # stats frames come about once a second, not counted on here
            stats = await tail.next_of("stats")
            if stats["behind"]["messages"] == 0:
                break
        await tail.close()
        return records, stats

    records, stats = run(scenario)
    assert [r["value"]["text"] for r in records] == ["a1", "a2", "a3", "a4", "a5", "b1"]
    assert stats["behind"]["seconds"] is None
    assert stats["behind"]["partitions"] == [
        {"partition": 0, "next_offset": 11, "high": 11, "behind": 0}
    ]
