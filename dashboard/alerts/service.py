"""Alerts after each sampler round: readings from the round, the engine's transitions, and
the alerts and notifications they make, written in one transaction (before any is sent)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.alerts.engine import STATUS_LEVELS, Reading, Tracked, Transition, step
from dashboard.alerts.models import Alert, AlertTracker, Notification, Silence
from dashboard.alerts.rules import AlertRule, AlertRules
from dashboard.lag.models import SampleRound
from dashboard.lag.sampler import RoundResult

log = logging.getLogger("kafkaview.alerts")


def _link(cluster: str, kind: str, name: str) -> str:
    base = settings.KAFKAVIEW_PUBLIC_URL.rstrip("/")
    if kind == "group":
        return f"{base}/clusters/{quote(cluster)}/groups/{quote(name, safe='')}/"
    if kind == "topic":
        return f"{base}/clusters/{quote(cluster)}/topics/{quote(name, safe='')}/"
    return f"{base}/clusters/{quote(cluster)}/"


def _group_reading(rule: AlertRule, cluster: str, name: str, g: Any) -> Reading | None:
    subject = f"{cluster}/group/{name}"
    if rule.when == "status":
        level = STATUS_LEVELS.get(g.status)
        if level is None:
            return None  # no verdict yet (too few rounds): nothing to judge
        return Reading(subject, cluster, name, level, f"status {g.status}", g.status)
    if rule.when == "lag_messages":
        return Reading(subject, cluster, name, g.lag, f"lag {g.lag:,} messages", f"{g.lag:,}")
    if rule.when == "lag_seconds":
        if g.lag_seconds is None:
            return None
        text = f"lag about {g.lag_seconds:,.0f} s"
        return Reading(subject, cluster, name, g.lag_seconds, text, f"{g.lag_seconds:,.0f} s")
    none = 1 if g.members == 0 else 0
    return Reading(subject, cluster, name, none, f"{g.members} member(s)", str(g.members))


def _topic_reading(rule: AlertRule, cluster: str, name: str, t: Any) -> Reading:
    subject = f"{cluster}/topic/{name}"
    if rule.when == "under_replicated":
        n = t.under_replicated
        return Reading(subject, cluster, name, n, f"{n} partition(s) under-replicated", str(n))
    if rule.when == "offline":
        n = t.offline
        return Reading(subject, cluster, name, n, f"{n} partition(s) without a leader", str(n))
    text = f"end offsets sum {t.end_offsets:,}"
    return Reading(subject, cluster, name, t.end_offsets, text, f"{t.end_offsets:,}")


def readings(rules: AlertRules, result: RoundResult) -> list[tuple[AlertRule, Reading]]:
    """What each rule judges in this round (only cluster rules when the round failed)."""
    cluster = result.cluster
    found: list[tuple[AlertRule, Reading]] = []
    for rule in rules.rules:
        if rule.when == "sampler_stale":
            continue  # judged by alerts_stale, beside the rounds
        if rule.on == "cluster":
            if rule.covers(cluster, cluster):
                text = "answers" if result.ok else f"does not answer: {result.error[:300]}"
                value = 0 if result.ok else 1
                found.append((rule, Reading(cluster, cluster, cluster, value, text, text)))
            continue
        if not result.ok:
            continue  # missing data keeps every group and topic alert as it is
        if rule.on == "group":
            for name, g in result.groups.items():
                if rule.covers(cluster, name, g.type):
                    reading = _group_reading(rule, cluster, name, g)
                    if reading is not None:
                        found.append((rule, reading))
        else:
            for name, t in result.topics.items():
                if rule.covers(cluster, name):
                    found.append((rule, _topic_reading(rule, cluster, name, t)))
    return found


def payload(alert: Alert, kind: str, rule: AlertRule, reading: Reading) -> dict[str, Any]:
    """What every receiver is told (a webhook gets it whole)."""
    return {
        "state": kind,
        "alert_id": alert.pk,
        "rule": rule.name,
        "severity": rule.severity,
        "cluster": alert.cluster,
        "kind": rule.on,
        "subject": alert.subject,
        "name": alert.name,
        "when": rule.when,
        "value": reading.value,
        "shown": reading.shown,
        "text": reading.text,
        "link": _link(alert.cluster, rule.on, alert.name),
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def _notify(
    alert: Alert, t: Transition, at: datetime, silences: list[Silence]
) -> list[Notification]:
    body = payload(alert, t.kind, t.rule, t.reading)
    silenced = any(s.covers(t.rule.name, alert.subject) for s in silences)
    state = Notification.State.SILENCED if silenced else Notification.State.PENDING
    return [
        Notification(
            alert=alert,
            receiver=name,
            kind=t.kind,
            payload=body,
            state=state,
            created_at=at,
            next_at=at,
        )
        for name in t.rule.receivers
    ]


def alerts_after_round(
    result: RoundResult, *, rules: AlertRules | None = None, at: datetime | None = None
) -> list[Transition]:
    """Judge the round; open, remind of and resolve alerts; queue their notifications."""
    rules = rules if rules is not None else settings.KAFKAVIEW_ALERTS
    if not rules.rules:
        return []
    return _judge(readings(rules, result), at or result.at)


def alerts_stale(
    *, now: datetime, clusters: list[str], rules: AlertRules | None = None
) -> list[Transition]:
    """Judge `sampler_stale` rules: seconds since each cluster's last round began. Run from
    the sender's thread, so a round that hangs (a hung broker) is noticed meanwhile."""
    rules = rules if rules is not None else settings.KAFKAVIEW_ALERTS
    stale = [r for r in rules.rules if r.when == "sampler_stale"]
    if not stale:
        return []
    judged = []
    for cluster in clusters:
        last = SampleRound.objects.filter(cluster=cluster).order_by("-at").first()
        if last is None:
            continue  # never sampled yet: nothing to compare with
        age = max((now - last.at).total_seconds(), 0.0)
        text = f"the sampler's last round of {cluster} began {age:,.0f} s ago"
        for rule in stale:
            if rule.covers(cluster, cluster):
                reading = Reading(f"{cluster}/sampler", cluster, cluster, age, text, f"{age:.0f} s")
                judged.append((rule, reading))
    return _judge(judged, now)


def _judge(judged: list[tuple[AlertRule, Reading]], at: datetime) -> list[Transition]:
    now = at.timestamp()
    with transaction.atomic():
        trackers = {
            (t.rule, t.subject): t
            for t in AlertTracker.objects.filter(
                rule__in={r.name for r, _ in judged}, subject__in={x.subject for _, x in judged}
            )
        }
        silences = list(Silence.objects.filter(until__gt=at, ended_at__isnull=True))
        transitions, notes = [], []
        for rule, reading in judged:
            row = trackers.get((rule.name, reading.subject))
            tracked = Tracked(**row.state) if row is not None else Tracked()
            before = asdict(tracked)
            if row is not None and row.alert_id is not None and not tracked.acked:
                # An acknowledgement is made on the page: the alert row holds it.
                tracked.acked = Alert.objects.filter(
                    pk=row.alert_id, acked_at__isnull=False
                ).exists()
            t = step(rule, reading, tracked, now)
            alert_id = row.alert_id if row is not None else None
            if t is not None:
                transitions.append(t)
                found = None if alert_id is None else Alert.objects.filter(pk=alert_id).first()
                if t.kind == "open" or found is None:
                    alert = Alert.objects.create(
                        rule=rule.name,
                        severity=rule.severity,
                        cluster=reading.cluster,
                        subject=reading.subject,
                        kind=rule.on,
                        name=reading.name,
                        opened_at=at,
                        text=reading.text,
                        value=reading.value,
                    )
                else:
                    alert = found
                if t.kind != "open":
                    alert.value, alert.text = reading.value, reading.text
                    if t.kind == "resolved":
                        alert.state, alert.resolved_at = Alert.State.RESOLVED, at
                    alert.save(update_fields=["value", "text", "state", "resolved_at"])
                alert_id = None if t.kind == "resolved" else alert.pk
                notes.extend(_notify(alert, t, at, silences))
            if row is None:
                if asdict(tracked) != asdict(Tracked()) or alert_id is not None:
                    AlertTracker.objects.create(
                        rule=rule.name,
                        subject=reading.subject,
                        state=asdict(tracked),
                        alert_id=alert_id,
                    )
            elif asdict(tracked) != before or row.alert_id != alert_id:
                row.state, row.alert_id = asdict(tracked), alert_id
                row.save(update_fields=["state", "alert"])
        Notification.objects.bulk_create(notes)
    return transitions


def alert_ack(alert: Alert, *, by: str) -> None:
    """Acknowledge an open alert: no more reminders (it still resolves, and says so)."""
    alert.acked_by, alert.acked_at = by[:150], timezone.now()
    alert.save(update_fields=["acked_by", "acked_at"])
