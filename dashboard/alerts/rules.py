"""Alert rules and receivers as config: a TOML file (pure: no Django, no Kafka).

    [[receivers]]
    name = "oncall"
    type = "webhook"                 # webhook, slack, teams or email
    url_env = "ONCALL_WEBHOOK_URL"   # secrets only from the environment

    [[receivers]]
    name = "team-mail"
    type = "email"
    to = ["payments@example.com"]    # SMTP settings: KAFKAVIEW_SMTP_* (README)

    [[rules]]
    name = "payments-stalled"
    on = "group"                     # group, topic or cluster
    match = "payments-.*"            # regular expression on the group (or topic), full match
    clusters = ["prod"]              # default: every cluster
    types = ["consumer", "classic"]  # group types; default: every type
    when = "status"                  # group: status, lag_messages, lag_seconds, no_members
    at_least = "STALL"               # status: WARN, REWIND, STALL or STOP
    for_seconds = 120                # the condition holds this long before the alert opens
    clear_for_seconds = 60           # ... and is over this long before it resolves
    severity = "critical"
    receivers = ["oncall", "team-mail"]
    remind_every_seconds = 3600      # while open; 0: never

A numeric rule (lag_messages, lag_seconds) opens above `above` and resolves at or below
`clear_below` (default: `above`): the gap between them is the hysteresis. Topic rules:
under_replicated, offline, no_new_records; cluster rules: unavailable, sampler_stale (`above`:
seconds since the last round began). Errors name the file,
the rule or receiver, the key and the problem, as the access file's do.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.kafka.linear import LinearPattern, PatternError, linear_compile

ON = ("group", "topic", "cluster")
WHEN = {
    "group": ("status", "lag_messages", "lag_seconds", "no_members"),
    "topic": ("under_replicated", "offline", "no_new_records"),
    "cluster": ("unavailable", "sampler_stale"),
}
NUMERIC = ("lag_messages", "lag_seconds", "sampler_stale")
LEVELS = ("WARN", "REWIND", "STALL", "STOP")
SEVERITIES = ("info", "warning", "critical")
RECEIVER_TYPES = ("webhook", "slack", "teams", "email")
RULE_KEYS = frozenset(
    {
        "name",
        "on",
        "match",
        "clusters",
        "types",
        "when",
        "at_least",
        "above",
        "clear_below",
        "for_seconds",
        "clear_for_seconds",
        "severity",
        "receivers",
        "remind_every_seconds",
    }
)
RECEIVER_KEYS = frozenset({"name", "type", "url_env", "to"})
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


class AlertConfigError(Exception):
    """The alerts file is malformed; names the file, the rule or receiver, the key, the problem."""

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class Receiver:
    """Where notifications go: a webhook URL (from the environment) or email addresses."""

    name: str
    type: str
    url_env: str | None = None
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertRule:
    """A condition on groups, topics or clusters, held for a while, told to receivers."""

    name: str
    on: str
    when: str
    match: LinearPattern | None
    clusters: frozenset[str]  # empty: every cluster
    types: frozenset[str]  # empty: every group type
    at_least: str | None
    above: float | None
    clear_below: float | None
    for_seconds: float
    clear_for_seconds: float
    severity: str
    receivers: tuple[str, ...]
    remind_every_seconds: float

    def covers(self, cluster: str, name: str, type_: str | None = None) -> bool:
        """Whether the rule speaks of this group or topic (or cluster) on this cluster."""
        if self.clusters and cluster not in self.clusters:
            return False
        if type_ is not None and self.types and type_ not in self.types:
            return False
        return self.match is None or bool(self.match.fullmatch(name))


@dataclass(frozen=True)
class AlertRules:
    """Every rule and receiver of the file."""

    rules: tuple[AlertRule, ...]
    receivers: dict[str, Receiver]
    source: str

    def rule(self, name: str) -> AlertRule | None:
        """The rule of that name."""
        return next((r for r in self.rules if r.name == name), None)


def _problem(source: str, key: str, problem: str) -> AlertConfigError:
    return AlertConfigError(source=source, key=key, problem=problem)


def _number(raw: Mapping[str, Any], key: str, where: str, source: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _problem(source, f"{where}.{key}", f"must be a number >= 0, not {value!r}")
    return float(value)


def _names(raw: Mapping[str, Any], key: str, where: str, source: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _problem(source, f"{where}.{key}", "must be a list of non-empty strings")
    return tuple(value)


def _table(raw: Any, where: str, source: str, keys: frozenset[str], what: str) -> str:
    # A [[receivers]] or [[rules]] entry: a table of known keys with a valid name.
    if not isinstance(raw, dict):
        raise _problem(source, where, "must be a table")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise _problem(source, f"{where}.{unknown[0]}", f"is not a {what} key")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _problem(source, f"{where}.name", "must be 1-100 letters, digits, '.', '_', '-'")
    return name


def _receiver(raw: Any, where: str, source: str) -> Receiver:
    name = _table(raw, where, source, RECEIVER_KEYS, "receiver")
    where = f"receivers[{name}]"
    kind = raw.get("type")
    if kind not in RECEIVER_TYPES:
        raise _problem(source, f"{where}.type", f"must be one of {', '.join(RECEIVER_TYPES)}")
    if kind == "email":
        to = _names(raw, "to", where, source)
        if not to or not all(EMAIL_RE.match(a) for a in to):
            raise _problem(source, f"{where}.to", "must list one or more email addresses")
        if "url_env" in raw:
            raise _problem(source, f"{where}.url_env", "is for webhook receivers")
        return Receiver(name=name, type=kind, to=to)
    env = raw.get("url_env")
    if not isinstance(env, str) or not ENV_RE.match(env):
        raise _problem(
            source,
            f"{where}.url_env",
            "must name the environment variable that holds the URL (secrets stay out of files)",
        )
    if "to" in raw:
        raise _problem(source, f"{where}.to", "is for email receivers")
    return Receiver(name=name, type=kind, url_env=env)


def _rule(raw: Any, where: str, source: str, receivers: dict[str, Receiver]) -> AlertRule:
    name = _table(raw, where, source, RULE_KEYS, "rule")
    where = f"rules[{name}]"
    on = raw.get("on")
    if on not in ON:
        raise _problem(source, f"{where}.on", f"must be one of {', '.join(ON)}")
    when = raw.get("when")
    if when not in WHEN[on]:
        raise _problem(source, f"{where}.when", f"for {on} rules: one of {', '.join(WHEN[on])}")
    match = None
    if "match" in raw:
        if on == "cluster" or not isinstance(raw["match"], str):
            raise _problem(source, f"{where}.match", "a regular expression, on group/topic rules")
        try:
            match = linear_compile(raw["match"])
        except PatternError as exc:
            raise _problem(source, f"{where}.match", str(exc)) from None
    types = _names(raw, "types", where, source)
    if types and on != "group":
        raise _problem(source, f"{where}.types", "only group rules have types")
    at_least = raw.get("at_least")
    if when == "status":
        if at_least not in LEVELS:
            raise _problem(source, f"{where}.at_least", f"must be one of {', '.join(LEVELS)}")
    elif at_least is not None:
        raise _problem(source, f"{where}.at_least", "only status rules have a level")
    above = clear_below = None
    if when in NUMERIC:
        if "above" not in raw:
            raise _problem(source, f"{where}.above", f"a {when} rule needs a threshold")
        above = _number(raw, "above", where, source, 0)
        clear_below = _number(raw, "clear_below", where, source, above)
        if clear_below > above:
            raise _problem(source, f"{where}.clear_below", "must be at most `above`")
    else:
        for key in ("above", "clear_below"):
            if key in raw:
                raise _problem(source, f"{where}.{key}", f"a {when} rule has no threshold")
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise _problem(source, f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
    named = _names(raw, "receivers", where, source)
    for r in named:
        if r not in receivers:
            raise _problem(source, f"{where}.receivers", f"no receiver is named {r!r}")
    return AlertRule(
        name=name,
        on=on,
        when=when,
        match=match,
        clusters=frozenset(_names(raw, "clusters", where, source)),
        types=frozenset(types),
        at_least=at_least,
        above=above,
        clear_below=clear_below,
        for_seconds=_number(raw, "for_seconds", where, source, 0),
        clear_for_seconds=_number(raw, "clear_for_seconds", where, source, 0),
        severity=severity,
        receivers=named,
        remind_every_seconds=_number(raw, "remind_every_seconds", where, source, 0),
    )


def alerts_parse(text: str, *, source: str) -> AlertRules:
    """Parse an alerts file; AlertConfigError names what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _problem(source, "(file)", f"not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - {"rules", "receivers"})
    if unknown:
        raise _problem(source, unknown[0], "is not a top-level key (rules, receivers)")
    receivers: dict[str, Receiver] = {}
    for i, item in enumerate(raw.get("receivers", [])):
        receiver = _receiver(item, f"receivers[{i}]", source)
        if receiver.name in receivers:
            raise _problem(source, f"receivers[{receiver.name}]", "the name is used twice")
        receivers[receiver.name] = receiver
    rules: list[AlertRule] = []
    for i, item in enumerate(raw.get("rules", [])):
        rule = _rule(item, f"rules[{i}]", source, receivers)
        if any(r.name == rule.name for r in rules):
            raise _problem(source, f"rules[{rule.name}]", "the name is used twice")
        rules.append(rule)
    return AlertRules(rules=tuple(rules), receivers=receivers, source=source)


def alerts_load(path: str) -> AlertRules:
    """Read and parse the alerts file at path."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(path, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    return alerts_parse(text, source=path)


NO_RULES = AlertRules(rules=(), receivers={}, source="(none)")
