"""Alerts against a real broker, a real HTTP receiver and a real SMTP server (aiosmtpd):
a group that falls behind opens one alert and one notification per receiver, reminds, and
resolves once when it catches up; a failing receiver gets the notification once, after its
failures, with every attempt recorded; a silence holds; a sampler that takes over neither
loses nor repeats; a bad rules file stops start-up with the file, key and problem."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from confluent_kafka import Producer
from django.test import override_settings

from dashboard.alerts.deliver import deliver_due
from dashboard.alerts.models import Alert, AlertTracker, Notification
from dashboard.alerts.rules import alerts_parse
from dashboard.alerts.service import alerts_after_round, alerts_stale
from dashboard.lag.sampler import Sampler
from devtools.broker import free_port
from tests.helpers import SteppedClock, manage_check, unique
from tests.integration.test_history import Committer

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


class Receiver:
    """A real HTTP server that records every POST and answers from a script of codes."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.codes = list(codes or [])
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.bodies.append(json.loads(self.rfile.read(length)))
                code = owner.codes.pop(0) if owner.codes else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver()
    monkeypatch.setenv("TEST_HOOK_URL", r.url)
    yield r
    r.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def rules_for(group: str, **extra: Any) -> Any:
    options = {
        "for_seconds": 20,
        "clear_for_seconds": 0,
        "remind_every_seconds": 60,
        **extra,
    }
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    return alerts_parse(
        f"""
[[receivers]]
name = "hook"
type = "webhook"
url_env = "TEST_HOOK_URL"

[[receivers]]
name = "mail"
type = "email"
to = ["oncall@example.com"]

[[rules]]
name = "behind"
on = "group"
match = {json.dumps(group)}
when = "lag_messages"
above = 3
clear_below = 0
severity = "critical"
receivers = ["hook", "mail"]
{lines}
""",
        source="alerts.toml",
    )


def topic_with(kafka_broker: Any, make_topic: Any, n: int) -> str:
    topic = make_topic("alerted")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(n):
        producer.produce(topic, value=b"%d" % i, partition=0)
    assert producer.flush(15) == 0
    return topic


def test_a_group_that_falls_behind_opens_reminds_and_resolves_once(
    kafka_broker, make_topic, receiver, mailbox
) -> None:
    box, port = mailbox
    group = unique("alerted")
    topic = topic_with(kafka_broker, make_topic, 10)
    committer = Committer(kafka_broker.bootstrap_servers, group)
    committer.commit(topic, 0)  # lag 10, and nobody commits
    clock = SteppedClock()
    sampler = Sampler(cluster="local", interval=10, window=3, clock=clock)
    smtp = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "user": "",
        "password": "",
        "from": "kafkaview@example.com",
    }
    log: list[str] = []
    with override_settings(KAFKAVIEW_ALERTS=rules_for(group), KAFKAVIEW_SMTP=smtp):

        def round_(seconds_later: float) -> list[str]:
            clock.advance(seconds_later)
            kinds = [t.kind for t in alerts_after_round(sampler.round())]
            deliver_due(now=clock)
            log.extend(f"+{(clock() - began).total_seconds():.0f} s {k}" for k in kinds)
            return kinds

        began = clock()
        # Held for 20 s (for_seconds) before it opens: the rounds at +0 and +10 wait.
        assert [round_(0), round_(10), round_(10)] == [[], [], ["open"]]
        assert [round_(10), round_(10), round_(10), round_(10)] == [[], [], [], []]
        assert round_(30) == ["remind"]  # 60 s after the open
        committer.commit(topic, 10)  # caught up
        assert round_(10) == ["resolved"]
        assert round_(10) == []
    committer.close()
    assert [b["state"] for b in receiver.bodies] == ["open", "remind", "resolved"]
    first = receiver.bodies[0]
    assert (first["rule"], first["subject"], first["value"]) == (
        "behind",
        f"local/group/{group}",
        10,
    )
    assert first["link"].endswith(f"/clusters/local/groups/{group}/")
    assert len(box.messages) == 3
    subjects = [
        m.original_content.split(b"Subject: ", 1)[1].split(b"\n", 1)[0] for m in box.messages
    ]
    assert [s.split(b"]")[0] for s in subjects] == [b"[FIRING", b"[STILL FIRING", b"[RESOLVED"]
    (alert,) = Alert.objects.filter(subject=f"local/group/{group}")
    assert alert.state == "resolved"
    assert Notification.objects.filter(alert=alert, state="sent").count() == 6
    print("\n".join(["receiver log:", *log, *(json.dumps(b) for b in receiver.bodies)]))


def test_a_receiver_that_fails_three_times_gets_the_notification_once(receiver, operator) -> None:
    receiver.codes = [500, 500, 500, 200]
    clock = SteppedClock()
    with override_settings(KAFKAVIEW_ALERTS=rules_for("g")):
        queued = operator.post("/api/alerts/receivers/hook/test/", "{}", "application/json")
        assert queued.status_code == 200, queued.content
        n = Notification.objects.get(pk=queued.json()["id"])
        n.next_at = n.created_at = clock()
        n.save()
        waits = []
        for _ in range(4):
            assert deliver_due(now=clock) in (0, 1)
            n.refresh_from_db()
            if n.state == "sent":
                break
            assert deliver_due(now=clock) == 0  # not due again before its back-off
            waits.append((n.next_at - clock()).total_seconds())
            clock.advance(waits[-1])
        shown = operator.get("/api/alerts/").json()["notifications"]
    assert [a["ok"] for a in n.attempts] == [False, False, False, True]
    assert [a["detail"] for a in n.attempts[:3]] == ["answered 500"] * 3
    assert waits == [5.0, 10.0, 20.0]
    assert n.state == "sent" and len(receiver.bodies) == 4
    assert {b["state"] for b in receiver.bodies} == {"test"}
    assert [s["attempts"] for s in shown if s["id"] == n.pk] == [n.attempts]


def test_a_silence_holds_and_a_takeover_neither_loses_nor_repeats(
    kafka_broker, make_topic, receiver, operator
) -> None:
    group = unique("silenced")
    topic = topic_with(kafka_broker, make_topic, 10)
    committer = Committer(kafka_broker.bootstrap_servers, group)
    committer.commit(topic, 0)
    clock = SteppedClock()
    with override_settings(KAFKAVIEW_ALERTS=rules_for(group, for_seconds=0)):
        body = {
            "rule": "behind",
            "subject": f"local/group/{group}",
            "minutes": 1,
            "reason": "deploying",
        }
        made = operator.post("/api/alerts/silences/", json.dumps(body), "application/json")
        assert made.status_code == 200, made.content
        first = Sampler(cluster="local", interval=10, window=3, clock=clock)
        assert [t.kind for t in alerts_after_round(first.round())] == ["open"]
        deliver_due(now=clock)
        assert receiver.bodies == []  # silenced: recorded, not sent
        assert set(
            Notification.objects.filter(alert__name=group).values_list("state", flat=True)
        ) == {"silenced"}
        # The holder dies before its next round; another process takes the lease over. The
        # alert's state is in the database: the new sampler neither opens it again nor
        # forgets it, and its resolve is sent once.
        clock.advance(120)  # the silence (1 min) is over
        committer.commit(topic, 10)
        second = Sampler(cluster="local", interval=10, window=3, clock=clock)
        assert [t.kind for t in alerts_after_round(second.round())] == ["resolved"]
        deliver_due(now=clock)
        deliver_due(now=clock)
    committer.close()
    assert [b["state"] for b in receiver.bodies] == ["resolved"]
    assert AlertTracker.objects.get(subject=f"local/group/{group}").alert is None


def test_a_bad_alerts_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text('[[rules]]\nname = "x"\non = "group"\nwhen = "lag_messages"\n')
    result = manage_check(KAFKAVIEW_ALERTS_FILE=str(bad))
    assert result.returncode != 0
    assert f"bad alert rules: {bad}: rules[x].above: a lag_messages rule needs a threshold" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_page_and_metrics_show_open_alerts(kafka_broker, make_topic, operator) -> None:
    group = unique("shown")
    topic = topic_with(kafka_broker, make_topic, 10)
    committer = Committer(kafka_broker.bootstrap_servers, group)
    committer.commit(topic, 0)
    committer.close()
    clock = SteppedClock()
    with override_settings(KAFKAVIEW_ALERTS=rules_for(group, for_seconds=0)):
        alerts_after_round(Sampler(cluster="local", interval=10, window=3, clock=clock).round())
        page = operator.get("/alerts/").content.decode()
        assert f"local/group/{group}" in page and "Acknowledge" in page
        (alert,) = Alert.objects.filter(name=group)
        acked = operator.post(f"/api/alerts/{alert.pk}/ack/", "{}", "application/json")
        assert acked.status_code == 200 and acked.json()["acked_by"]
        metrics = operator.get("/metrics").content.decode()
        labels = f'cluster="local",kind="group",name="{group}",rule="behind",severity="critical"'
        assert f"kafkaview_alert_open{{{labels}}} 1.0" in metrics
        rules = operator.get("/api/alerts/prometheus-rules/")
        assert (
            rules.status_code == 200
            and "kafkaview_consumergroup_lag_total" in rules.content.decode()
        )


def test_a_sampler_whose_rounds_stop_is_stale(kafka_broker, receiver) -> None:
    rules = alerts_parse(
        '[[receivers]]\nname = "hook"\ntype = "webhook"\nurl_env = "TEST_HOOK_URL"\n'
        '[[rules]]\nname = "stale"\non = "cluster"\nwhen = "sampler_stale"\nabove = 30\n'
        'receivers = ["hook"]\n',
        source="alerts.toml",
    )
    clock = SteppedClock()
    sampler = Sampler(cluster="local", interval=10, window=3, clock=clock)
    with override_settings(KAFKAVIEW_ALERTS=rules):
        began = clock()
        sampler.round()
        # The sender's thread looks while a round hangs: nothing new for 40 s.
        kinds = []
        for seconds in (5, 20, 40):
            kinds += [
                t.kind
                for t in alerts_stale(now=began + timedelta(seconds=seconds), clusters=["local"])
            ]
        assert kinds == ["open"]
        clock.advance(45)
        sampler.round()  # rounds again
        resolved = alerts_stale(now=clock() + timedelta(seconds=1), clusters=["local"])
        assert [t.kind for t in resolved] == ["resolved"]
        deliver_due(now=lambda: clock() + timedelta(seconds=2))
    assert [b["state"] for b in receiver.bodies] == ["open", "resolved"]
    assert receiver.bodies[0]["subject"] == "local/sampler"


def test_bad_alert_input_is_a_clear_4xx(operator) -> None:
    with override_settings(KAFKAVIEW_ALERTS=rules_for("g")):
        post = lambda path, body: operator.post(path, json.dumps(body), "application/json")  # noqa: E731
        for body in (
            {"reason": "x"},  # neither a rule nor a subject
            {"rule": "no-such-rule", "reason": "x"},
            {"rule": "behind", "minutes": "soon", "reason": "x"},
            {"rule": "behind", "minutes": 10**30, "reason": "x"},
            {"rule": "behind", "minutes": 5},  # no reason
            {"subject": "s" * 5000, "reason": "x"},
        ):
            answer = post("/api/alerts/silences/", body)
            assert answer.status_code == 400, (body, answer.content)
            assert answer.json()["error"]["message"]
        assert operator.post("/api/alerts/silences/", b"[1", "application/json").status_code == 400
        assert post("/api/alerts/receivers/nobody/test/", {}).status_code == 400
        assert post("/api/alerts/987654/ack/", {}).status_code == 404
        assert post("/api/alerts/silences/987654/end/", {}).status_code == 404
        for params in ({"hanging": 1, "max_minutes": "abc"}, {"hanging": 1, "max_minutes": 10**20}):
            assert operator.get("/api/clusters/local/transactions/", params).status_code == 400


def test_a_viewer_reads_alerts_but_may_not_silence_them(viewer) -> None:
    with override_settings(KAFKAVIEW_ALERTS=rules_for("g")):
        assert viewer.get("/api/alerts/").status_code == 200
        body = json.dumps({"rule": "behind", "reason": "x"})
        assert viewer.post("/api/alerts/silences/", body, "application/json").status_code == 403
        assert viewer.post("/api/alerts/receivers/hook/test/").status_code == 403
