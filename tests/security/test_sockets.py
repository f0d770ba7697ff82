"""Sockets re-check their session (finding 8), survive hostile frames and records (10), and
are capped per user (11)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from confluent_kafka import Producer
from django.test import override_settings

from dashboard.tail.consumer import CLOSE_UNAUTHENTICATED
from kafkaview.asgi import application
from tests.integration.test_tail import run
from tests.security.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")


def logged_in_socket(client, user, topic: str) -> Socket:
    """A socket through the whole ASGI stack (session cookie, origin check), as a browser's."""
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return Socket(topic, None, app=application, headers=[ORIGIN, (b"cookie", cookie)])


def test_a_socket_opened_before_a_logout_starts_nothing_after_it(client, user, make_topic) -> None:
    topic = make_topic("after-logout")
    tail = logged_in_socket(client, user, topic)

    async def scenario() -> tuple[dict, dict]:
        await tail.open()
        await tail.send({"type": "start", "start": "earliest"})
        first = await tail.until("started", "error")
        await sync_to_async(client.logout)()
        await tail.send({"type": "start", "start": "earliest"})
        return first, await tail.until("started", "closed")

    first, after = run(scenario)
    assert first["type"] == "started"
    assert after == {"type": "closed", "code": CLOSE_UNAUTHENTICATED}
    assert any(f.get("error") == "not_authenticated" for f in tail.frames)


def test_a_deactivated_user_is_closed_within_the_recheck_interval(client, user, make_topic) -> None:
    topic = make_topic("deactivated")
    tail = logged_in_socket(client, user, topic)

    async def scenario() -> dict:
        await tail.open()
        await tail.send({"type": "start", "start": "earliest"})
        await tail.until("started")
        user.is_active = False
        await sync_to_async(user.save)()
        return await tail.until("closed", timeout=30)

    with override_settings(KAFKAVIEW_SOCKET_RECHECK=0.2):
        closed = run(scenario)
    assert closed["code"] == CLOSE_UNAUTHENTICATED


def test_hostile_frames_get_error_frames_and_the_socket_lives(client, user, make_topic) -> None:
    topic = make_topic("frames")
    tail = logged_in_socket(client, user, topic)
    bad = [
        '{"type": "start", "start": "offset", "offset": Infinity}',
        '{"type": "start", "start": "timestamp", "timestamp": NaN}',
        '{"type": "start", "start": "offset", "offset": 1e400}',
        '{"type": "start", "start": "offset", "offset": "' + "9" * 5000 + '"}',
        '{"type": "start", "partitions": [' + "9" * 5000 + "]}",
        "[" * 100_000,
        '{"type": "more", "count": -1}',
        '{"type": "ack", "seq": 1e400}',
    ]

    async def scenario() -> list[dict]:
        await tail.open()
        answers = []
        for frame in bad:
            await tail.send(frame)
            if '"ack"' not in frame:
                answers.append(await tail.until("error", "closed"))
        await tail.send({"type": "start", "start": "earliest"})
        answers.append(await tail.until("started", "closed"))
        await tail.close()
        return answers

    *errors, alive = run(scenario)
    assert all(e["type"] == "error" for e in errors), errors
    assert alive["type"] == "started"


def test_a_record_nested_50000_deep_does_not_stop_the_tail(make_topic, user) -> None:
    topic = make_topic("deep")
    producer = Producer({"bootstrap.servers": _bootstrap()})
    producer.produce(topic, value=b"[" * 50_000 + b"]" * 50_000)
    producer.produce(topic, value=b'{"after": true}')
    assert producer.flush(15) == 0

    async def scenario() -> list[dict]:
        tail = Socket(topic, user)
        await tail.open()
        await tail.send({"type": "start", "start": "earliest"})
        while len(tail.records()) < 2:
            assert (await tail.next())["type"] != "closed"
        await tail.close()
        return tail.records()

    deep, after = run(scenario)
    assert deep["value"]["kind"] == "text" and deep["value"]["truncated"]
    assert after["value"]["kind"] == "json"


def _bootstrap() -> str:
    from django.conf import settings

    return settings.KAFKAVIEW_CLUSTERS.by_name["local"].bootstrap_servers


def test_tails_are_capped_per_user(make_topic, user) -> None:
    topic = make_topic("capped")

    async def scenario() -> list[dict]:
        tails = [Socket(topic, user) for _ in range(3)]
        answers = []
        for tail in tails:
            await tail.open()
            await tail.send({"type": "start"})
            answers.append(await tail.until("started", "error"))
        await tails[0].close()  # a slot comes free
        await tails[2].send({"type": "start"})
        answers.append(await tails[2].until("started", "error"))
        for tail in tails[1:]:
            await tail.close()
        return answers

    with override_settings(KAFKAVIEW_TAILS_PER_USER=2):
        answers = run(scenario)
    assert [a["type"] for a in answers] == ["started", "started", "error", "started"]
    assert answers[2]["error"] == "too_many_tails"
