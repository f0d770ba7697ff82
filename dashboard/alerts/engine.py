"""Alert state, judged from readings (pure: no Django, no Kafka, the clock passed in).

Each (rule, subject) is tracked: the condition must hold `for_seconds` before the alert
opens (one "open" notification), be over `clear_for_seconds` before it resolves (one
"resolved"), and a numeric value must fall to `clear_below` to count as over — so a value
crossing its threshold back and forth neither opens nor resolves on every crossing. While
open, a reminder goes every `remind_every_seconds` unless someone acknowledged it. A
subject the round could not read (the cluster did not answer, a group gone from the listing)
keeps its state: missing data never resolves an alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.alerts.rules import AlertRule

STATUS_LEVELS = {"OK": 0, "WARN": 1, "REWIND": 2, "STALL": 3, "STOP": 4}


@dataclass(frozen=True)
class Reading:
    """What a round saw of one subject for one rule."""

    subject: str  # "<cluster>/group/<name>", "<cluster>/topic/<name>" or "<cluster>"
    cluster: str
    name: str  # the group or topic (the cluster's name for cluster rules)
    value: float | None  # the number judged (status level, lag, seconds, count)
    text: str  # what is wrong, in words, for the notification
    shown: str = ""  # the value as people read it (e.g. "STALL", "1,200 messages")


@dataclass
class Tracked:
    """The state of one (rule, subject) between rounds."""

    pending_since: float | None = None  # the condition holds since
    clear_since: float | None = None  # an open alert's condition is over since
    open_since: float | None = None
    last_sent: float | None = None  # the open or the last reminder
    acked: bool = False
    last_value: float | None = None  # the previous round's value (no_new_records)


@dataclass(frozen=True)
class Transition:
    """An alert that opens, is reminded of, or resolves, with the reading that did it."""

    kind: str  # "open", "remind" or "resolved"
    rule: AlertRule
    reading: Reading


def firing(rule: AlertRule, reading: Reading, before: float | None) -> tuple[bool, bool]:
    """(the condition holds, the condition is over) — both False inside the hysteresis band."""
    value = reading.value
    if value is None:
        return False, False
    if rule.when == "status":
        bad = value >= STATUS_LEVELS[rule.at_least or "STOP"]
        return bad, not bad
    if rule.above is not None:
        clear = rule.clear_below if rule.clear_below is not None else rule.above
        return value > rule.above, value <= clear
    if rule.when == "no_new_records":
        # The sum of the topic's end offsets did not move since the last round.
        if before is None:
            return False, False
        return value == before, value != before
    # Counts and flags: under_replicated, offline, no_members, unavailable.
    return value > 0, value == 0


def step(rule: AlertRule, reading: Reading, tracked: Tracked, now: float) -> Transition | None:
    """Advance one (rule, subject) by a round's reading; the notification to send, if any."""
    if reading.value is None:
        return None  # not known this round: nothing changes, nothing is sent
    bad, over = firing(rule, reading, tracked.last_value)
    tracked.last_value = reading.value
    if tracked.open_since is None:
        if not bad:
            tracked.pending_since = None
            return None
        if tracked.pending_since is None:
            tracked.pending_since = now
        if now - tracked.pending_since < rule.for_seconds:
            return None
        tracked.open_since, tracked.last_sent = now, now
        tracked.clear_since, tracked.acked = None, False
        return Transition("open", rule, reading)
    if over:
        if tracked.clear_since is None:
            tracked.clear_since = now
        if now - tracked.clear_since >= rule.clear_for_seconds:
            tracked.open_since = tracked.pending_since = tracked.clear_since = None
            tracked.acked = False
            return Transition("resolved", rule, reading)
        return None
    tracked.clear_since = None  # over only when continuously over for clear_for_seconds
    if (
        rule.remind_every_seconds > 0
        and not tracked.acked
        and tracked.last_sent is not None
        and now - tracked.last_sent >= rule.remind_every_seconds
    ):
        tracked.last_sent = now
        return Transition("remind", rule, reading)
    return None
