"""Scoped access as config: rules and masks from a TOML file (pure: no Django, no Kafka).

    [[rules]]
    groups = ["payments-team"]         # Django groups the rule is for
    clusters = ["prod", "local"]       # cluster names; "*" for all (the default)
    topics = ["payments\\\\..*"]         # regular expressions, full match
    consumer_groups = ["payments-.*"]  # regular expressions, full match
    actions = ["view", "tail", "produce", "reset"]
    cluster_actions = ["configure"]    # broker and cluster-wide configs

    [[policies]]                       # what created or changed topics must look like
    name = "prod-topics"               # (dashboard/access/topic_policy.py)
    min_replication_factor = 2

    [[masks]]
    topics = ["payments\\\\..*"]
    json_fields = ["card.number", "cvv"]
    regex = ["\\\\b\\\\d{13,19}\\\\b"]

A user may do an action on a topic (view, tail, export, produce, create, configure, delete) or a
consumer group (view, reset, delete) when a rule of one of their groups allows it on that
cluster; configuring brokers takes `cluster_actions = ["configure"]`. Errors name the
file, the rule and the key, as the clusters file's do.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.access.topic_policy import Policies, PolicyConfigError, policies_parse
from dashboard.kafka.linear import LinearPattern, PatternError, linear_compile
from dashboard.kafka.masking import Masker

ACTIONS = ("view", "tail", "export", "produce", "reset", "create", "configure", "delete")
CLUSTER_ACTIONS = ("configure",)
RULE_KEYS = frozenset(
    {"groups", "clusters", "topics", "consumer_groups", "actions", "cluster_actions"}
)
MASK_KEYS = frozenset({"topics", "json_fields", "regex"})
TOP_KEYS = frozenset({"rules", "masks", "policies"})
FIELD_RE = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


class AccessConfigError(Exception):
    """The access file is malformed; names the file, the rule or mask, the key and the problem."""

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class Rule:
    """What members of some Django groups may do on some clusters, topics and groups."""

    groups: frozenset[str]
    clusters: frozenset[str]  # "*" for every cluster
    topics: tuple[LinearPattern, ...]
    consumer_groups: tuple[LinearPattern, ...]
    actions: frozenset[str]
    cluster_actions: frozenset[str] = frozenset()

    def covers_cluster(self, cluster: str) -> bool:
        """Whether the rule speaks of this cluster."""
        return "*" in self.clusters or cluster in self.clusters


@dataclass(frozen=True)
class Mask:
    """Parts of values on some topics to hide from everyone but superusers."""

    topics: tuple[LinearPattern, ...]
    json_fields: tuple[str, ...]
    patterns: tuple[LinearPattern, ...]


@dataclass(frozen=True)
class AccessRules:
    """Every rule and mask of the access file."""

    rules: tuple[Rule, ...]
    masks: tuple[Mask, ...]
    source: str = ""
    policies: Policies = field(default_factory=Policies)

    def allows(
        self,
        *,
        groups: Iterable[str],
        cluster: str,
        action: str,
        topic: str | None = None,
        group: str | None = None,
    ) -> bool:
        """Whether a rule of one of these Django groups allows the action on the thing
        (on the cluster itself when neither a topic nor a group is named)."""
        mine = set(groups)
        for rule in self.rules:
            if not (rule.groups & mine) or not rule.covers_cluster(cluster):
                continue
            if topic is None and group is None and action in rule.cluster_actions:
                return True
            if action not in rule.actions:
                continue
            if topic is not None and _full(rule.topics, topic):
                return True
            if group is not None and _full(rule.consumer_groups, group):
                return True
        return False

    def explain(
        self,
        *,
        groups: Iterable[str],
        cluster: str,
        action: str,
        topic: str | None = None,
        group: str | None = None,
    ) -> list[RuleVerdict]:
        """Each rule's answer to allows() with these arguments, and why (the why page)."""
        mine = set(groups)
        out = []
        for i, rule in enumerate(self.rules):
            allows, reason = _rule_says(
                rule, mine, cluster=cluster, action=action, topic=topic, group=group
            )
            out.append(RuleVerdict(i, rule, allows, reason))
        return out

    def sees_cluster(self, *, groups: Iterable[str], cluster: str) -> bool:
        """Whether any rule of these groups speaks of the cluster."""
        mine = set(groups)
        return any(r.groups & mine and r.covers_cluster(cluster) for r in self.rules)

    def masker(self, *, topic: str) -> Masker | None:
        """The masks that apply to a topic, merged; None when none does."""
        chosen = [m for m in self.masks if _full(m.topics, topic)]
        if not chosen:
            return None
        return Masker.of(
            json_fields=[f for m in chosen for f in m.json_fields],
            patterns=[p for m in chosen for p in m.patterns],
        )


@dataclass(frozen=True)
class RuleVerdict:
    """What one rule says of a request: allows it, or why it does not."""

    index: int
    rule: Rule
    allows: bool
    reason: str


def _rule_says(
    rule: Rule,
    mine: set[str],
    *,
    cluster: str,
    action: str,
    topic: str | None,
    group: str | None,
) -> tuple[bool, str]:
    # The same tests in the same order as AccessRules.allows, each with its reason.
    if not rule.groups & mine:
        return False, f"not for your groups (it is for {', '.join(sorted(rule.groups))})"
    if not rule.covers_cluster(cluster):
        return False, f"not for cluster {cluster!r} (it is for {', '.join(sorted(rule.clusters))})"
    if topic is None and group is None:
        if action in rule.cluster_actions:
            return True, f"allows {action} on the cluster (cluster_actions)"
        listed = ", ".join(sorted(rule.cluster_actions)) or "none"
        return False, f"does not allow {action} on the cluster (its cluster_actions: {listed})"
    if action not in rule.actions:
        listed = ", ".join(sorted(rule.actions)) or "none"
        return False, f"does not allow {action} (its actions: {listed})"
    if topic is not None:
        if _full(rule.topics, topic):
            return True, f"allows {action}: topic {topic!r} matches its topics"
        return False, f"topic {topic!r} matches none of its topics"
    if _full(rule.consumer_groups, group or ""):
        return True, f"allows {action}: group {group!r} matches its consumer_groups"
    return False, f"group {group!r} matches none of its consumer_groups"


def _full(patterns: Sequence[LinearPattern], name: str) -> bool:
    return any(p.fullmatch(name) for p in patterns)


@dataclass
class _Reader:
    source: str
    errors: list[str] = field(default_factory=list)

    def fail(self, key: str, problem: str) -> AccessConfigError:
        return AccessConfigError(source=self.source, key=key, problem=problem)

    def strings(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> list[str]:
        if key not in table:
            if required:
                raise self.fail(f"{where}.{key}", "missing: give a list of strings")
            return []
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", f"expected a list of strings, not {value!r:.80}")
        if required and not value:
            raise self.fail(f"{where}.{key}", "must not be empty")
        return value

    def patterns(self, table: Mapping[str, Any], key: str, where: str) -> tuple[LinearPattern, ...]:
        out = []
        for i, text in enumerate(self.strings(table, key, where, required=False)):
            try:
                out.append(linear_compile(text))
            except PatternError as exc:
                raise self.fail(
                    f"{where}.{key}[{i}]", f"not a valid regular expression: {exc}"
                ) from None
        return tuple(out)

    def unknown(self, table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            raise self.fail(
                f"{where}.{extra[0]}", f"unknown key; known keys: {', '.join(sorted(allowed))}"
            )

    def tables(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"expected [[{key}]] tables")
        return value


def access_parse(text: str, *, source: str) -> AccessRules:
    """Rules and masks from the file's text; AccessConfigError names what is wrong."""
    reader = _Reader(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("(file)", f"not valid TOML: {exc}") from None
    reader.unknown(data, TOP_KEYS, "(top level)")
    rules = []
    for i, table in enumerate(reader.tables(data, "rules")):
        where = f"rules[{i}]"
        reader.unknown(table, RULE_KEYS, where)
        # A rule for brokers alone may give cluster_actions and no actions.
        actions = reader.strings(table, "actions", where, required="cluster_actions" not in table)
        for j, action in enumerate(actions):
            if action not in ACTIONS:
                raise reader.fail(
                    f"{where}.actions[{j}]", f"{action!r} is not one of {', '.join(ACTIONS)}"
                )
        cluster_actions = reader.strings(table, "cluster_actions", where, required=False)
        for j, action in enumerate(cluster_actions):
            if action not in CLUSTER_ACTIONS:
                raise reader.fail(
                    f"{where}.cluster_actions[{j}]",
                    f"{action!r} is not one of {', '.join(CLUSTER_ACTIONS)}",
                )
        clusters = reader.strings(table, "clusters", where, required=False) or ["*"]
        rules.append(
            Rule(
                groups=frozenset(reader.strings(table, "groups", where, required=True)),
                clusters=frozenset(clusters),
                topics=reader.patterns(table, "topics", where),
                consumer_groups=reader.patterns(table, "consumer_groups", where),
                actions=frozenset(actions),
                cluster_actions=frozenset(cluster_actions),
            )
        )
    masks = []
    for i, table in enumerate(reader.tables(data, "masks")):
        where = f"masks[{i}]"
        reader.unknown(table, MASK_KEYS, where)
        topics = reader.patterns(table, "topics", where)
        if not topics:
            raise reader.fail(f"{where}.topics", "missing: name the topics it masks")
        fields = reader.strings(table, "json_fields", where, required=False)
        for j, name in enumerate(fields):
            if not FIELD_RE.match(name):
                raise reader.fail(f"{where}.json_fields[{j}]", f"{name!r} is not a dotted path")
        patterns = reader.patterns(table, "regex", where)
        if not fields and not patterns:
            raise reader.fail(where, "a mask needs json_fields or regex")
        masks.append(Mask(topics=topics, json_fields=tuple(fields), patterns=patterns))
    try:
        policies = policies_parse(data.get("policies", []), source=source)
    except PolicyConfigError as exc:
        raise reader.fail(exc.key, exc.problem) from None
    return AccessRules(rules=tuple(rules), masks=tuple(masks), source=source, policies=policies)


def access_load(path: str) -> AccessRules:
    """The access file at path; AccessConfigError when it cannot be read or is malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessConfigError(
            source=path, key="(file)", problem=f"cannot read it: {exc}"
        ) from None
    return access_parse(text, source=path)
