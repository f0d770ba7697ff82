"""The alerts file and the alert engine: pure logic, the clock passed in."""

from __future__ import annotations

import json

import pytest

from dashboard.alerts.engine import Reading, Tracked, step
from dashboard.alerts.prometheus import prometheus_rules
from dashboard.alerts.rules import AlertConfigError, alerts_parse

EXAMPLE = """
[[receivers]]
name = "oncall"
type = "webhook"
url_env = "ONCALL_URL"

[[receivers]]
name = "mail"
type = "email"
to = ["team@example.com"]

[[rules]]
name = "stalled"
on = "group"
match = "payments-.*"
when = "status"
at_least = "STALL"
for_seconds = 60
clear_for_seconds = 30
severity = "critical"
receivers = ["oncall", "mail"]
remind_every_seconds = 600

[[rules]]
name = "lagging"
on = "group"
when = "lag_messages"
above = 1000
clear_below = 800
receivers = ["oncall"]

[[rules]]
name = "down"
on = "cluster"
when = "unavailable"
for_seconds = 30
receivers = ["oncall"]
"""


def test_the_example_parses() -> None:
    rules = alerts_parse(EXAMPLE, source="alerts.toml")
    assert [r.name for r in rules.rules] == ["stalled", "lagging", "down"]
    stalled = rules.rule("stalled")
    assert stalled is not None
    assert stalled.covers("local", "payments-1") and not stalled.covers("local", "orders")
    assert rules.receivers["mail"].to == ("team@example.com",)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[[rules]]\nname='x'\non='group'\nwhen='nope'\n", "rules[x].when", "one of status"),
        ("[[rules]]\nname='x'\non='group'\nwhen='lag_messages'\n", "rules[x].above", "threshold"),
        (
            "[[rules]]\nname='x'\non='group'\nwhen='status'\nat_least='BAD'\n",
            "rules[x].at_least",
            "WARN",
        ),
        (
            "[[rules]]\nname='x'\non='group'\nwhen='no_members'\nreceivers=['ghost']\n",
            "rules[x].receivers",
            "no receiver is named 'ghost'",
        ),
        (
            "[[rules]]\nname='x'\non='group'\nwhen='no_members'\nmatch='(a)\\1'\n",
            "rules[x].match",
            "",
        ),
        ("[[receivers]]\nname='r'\ntype='webhook'\nurl='http://x'\n", "receivers[0].url", "key"),
        ("[[receivers]]\nname='r'\ntype='slack'\n", "receivers[r].url_env", "environment"),
        (
            "[[rules]]\nname='x'\non='group'\nwhen='status'\nat_least='STOP'\nfor_seconds=-1\n",
            "rules[x].for_seconds",
            ">= 0",
        ),
        ("rules = 3\n[x\n", "(file)", "not valid TOML"),
        ("other = 1\n", "other", "top-level"),
    ],
)
def test_a_bad_file_names_the_file_key_and_problem(text: str, key: str, problem: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        alerts_parse(text, source="alerts.toml")
    assert caught.value.source == "alerts.toml"
    assert caught.value.key == key
    assert problem in caught.value.problem


def _lagging():
    rule = alerts_parse(EXAMPLE, source="a").rule("lagging")
    assert rule is not None
    return rule


def reading(value: float | None) -> Reading:
    return Reading("local/group/g", "local", "g", value, f"lag {value}")


def test_an_alert_opens_once_reminds_and_resolves_once() -> None:
    rule = alerts_parse(EXAMPLE, source="a").rule("stalled")
    assert rule is not None
    tracked, kinds = Tracked(), []
    # STALL (3) from t=0: opens at t=60 (for_seconds), reminds every 600 s, then OK (0) from
    # t=1300 resolves at t=1330 (clear_for_seconds).
    for t in range(0, 1400, 10):
        r = Reading("local/group/payments-1", "local", "payments-1", 3 if t < 1300 else 0, "")
        done = step(rule, r, tracked, float(t))
        if done is not None:
            kinds.append((t, done.kind))
    assert kinds == [(60, "open"), (660, "remind"), (1260, "remind"), (1330, "resolved")]


def test_a_value_oscillating_around_the_threshold_opens_and_resolves_at_most_once() -> None:
    rule = _lagging()  # opens above 1000, clears at or below 800
    tracked, kinds = Tracked(), []
    values = [1200, 950, 1050, 900, 1100, 990, 1010] * 10 + [700, 700]
    for t, v in enumerate(values):
        done = step(rule, reading(v), tracked, float(t))
        if done is not None:
            kinds.append(done.kind)
    assert kinds == ["open", "resolved"]


def test_missing_data_keeps_an_open_alert_open_and_an_ack_stops_reminders() -> None:
    rule = alerts_parse(EXAMPLE, source="a").rule("stalled")
    assert rule is not None
    tracked = Tracked()
    r = Reading("s", "local", "payments-1", 4, "")
    assert step(rule, r, tracked, 0.0) is None
    opened = step(rule, r, tracked, 60.0)
    assert opened is not None and opened.kind == "open"
    assert step(rule, reading(None), tracked, 5000.0) is None
    assert tracked.open_since == 60.0
    tracked.acked = True
    assert step(rule, r, tracked, 9000.0) is None  # no reminder once acknowledged


def test_the_prometheus_export_says_the_same_rules() -> None:
    text = prometheus_rules(alerts_parse(EXAMPLE, source="alerts.toml"))
    body = json.loads("".join(line for line in text.splitlines() if not line.startswith("#")))
    exprs = {r["alert"]: (r["expr"], r["for"]) for r in body["groups"][0]["rules"]}
    assert exprs == {
        "stalled": (
            "max by (cluster, group) (kafkaview_consumergroup_status"
            '{group=~"payments-.*",status=~"STALL|STOP"}) == 1',
            "60s",
        ),
        "lagging": ("kafkaview_consumergroup_lag_total{} > 1000", "0s"),
        "down": ("kafkaview_sampler_up{} == 0", "30s"),
    }
