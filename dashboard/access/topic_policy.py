"""Topic policies: what a created or reconfigured topic must look like (pure: no Django, no Kafka).

    [[policies]]
    name = "prod-topics"                 # named in every refusal
    clusters = ["prod"]                  # "*" for all (the default)
    topics = ["payments\\\\..*"]           # the topics it covers (full match; default: all)
    name_pattern = "[a-z0-9.-]+"         # a created topic's name must match it
    partitions = [1, 48]                 # the partition count a topic may have
    min_replication_factor = 2
    min_configs = { "min.insync.replicas" = 2 }   # must be set, at least this
    max_configs = { "retention.ms" = 2592000000 } # if set, at most this
    required_configs = ["retention.ms"]           # must be set on the topic
    forbidden_configs = ["unclean.leader.election.enable"]

A policy is checked before the broker is asked, on a create, on a config change (against
the topic's overrides as they would be after it) and on a partition increase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.errors import KafkaViewError
from dashboard.kafka.linear import LinearPattern, PatternError, linear_compile

POLICY_KEYS = frozenset(
    {
        "name",
        "clusters",
        "topics",
        "name_pattern",
        "partitions",
        "min_replication_factor",
        "min_configs",
        "max_configs",
        "required_configs",
        "forbidden_configs",
    }
)


class PolicyRefused(KafkaViewError):
    """A topic policy refuses the change; names the policy and the rule."""

    def __init__(self, *, policy: str, rule: str, problem: str) -> None:
        self.policy, self.rule, self.problem = policy, rule, problem
        super().__init__(f"Policy {policy!r} ({rule}) refuses this: {problem}")


class PolicyConfigError(Exception):
    """A malformed [[policies]] table; names the file, the policy, the key and the problem."""

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class TopicPolicy:
    """What topics of some clusters must look like."""

    name: str
    clusters: frozenset[str]
    topics: tuple[LinearPattern, ...]
    name_pattern: LinearPattern | None
    partitions: tuple[int, int] | None
    min_replication_factor: int | None
    min_configs: dict[str, float]
    max_configs: dict[str, float]
    required_configs: tuple[str, ...]
    forbidden_configs: tuple[str, ...]

    def covers(self, cluster: str, topic: str) -> bool:
        """Whether the policy speaks of this topic on this cluster."""
        if "*" not in self.clusters and cluster not in self.clusters:
            return False
        return not self.topics or any(p.fullmatch(topic) for p in self.topics)

    def refuse(self, rule: str, problem: str) -> PolicyRefused:
        """The refusal, naming this policy and the rule."""
        return PolicyRefused(policy=self.name, rule=rule, problem=problem)

    def configs_check(self, configs: Mapping[str, str]) -> None:
        """The topic's overrides (as they would be) against the config rules."""
        for key in self.required_configs:
            if key not in configs:
                raise self.refuse("required_configs", f"{key} must be set on the topic.")
        for key in self.forbidden_configs:
            if key in configs:
                raise self.refuse("forbidden_configs", f"{key} may not be set on the topic.")
        for key, low in self.min_configs.items():
            value = _number(configs.get(key))
            if value is None or value < low:
                raise self.refuse(
                    "min_configs",
                    f"{key} must be set to at least {_shown(low)} (is {_is(configs, key)}).",
                )
        for key, high in self.max_configs.items():
            value = _number(configs.get(key))
            if key in configs and (value is None or value > high):
                raise self.refuse(
                    "max_configs", f"{key} may be at most {_shown(high)} (is {_is(configs, key)})."
                )

    def partitions_check(self, partitions: int) -> None:
        """The partition count against the partitions rule."""
        if self.partitions is None:
            return
        low, high = self.partitions
        if not low <= partitions <= high:
            raise self.refuse(
                "partitions", f"a topic has {low} to {high} partitions, not {partitions}."
            )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _shown(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _is(configs: Mapping[str, str], key: str) -> str:
    return repr(configs[key][:100]) if key in configs else "not set"


@dataclass(frozen=True)
class Policies:
    """Every topic policy of the access file."""

    policies: tuple[TopicPolicy, ...] = ()

    def covering(self, cluster: str, topic: str) -> list[TopicPolicy]:
        """The policies that speak of the topic."""
        return [p for p in self.policies if p.covers(cluster, topic)]

    def create_check(
        self,
        *,
        cluster: str,
        topic: str,
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
    ) -> None:
        """PolicyRefused when a policy refuses creating this topic."""
        for policy in self.covering(cluster, topic):
            if policy.name_pattern is not None and not policy.name_pattern.fullmatch(topic):
                raise policy.refuse(
                    "name_pattern", f"a topic name must match {policy.name_pattern.pattern!r}."
                )
            policy.partitions_check(partitions)
            low = policy.min_replication_factor
            if low is not None and replication_factor < low:
                raise policy.refuse(
                    "min_replication_factor",
                    f"the replication factor is at least {low}, not {replication_factor}.",
                )
            policy.configs_check(configs)

    def configs_check(self, *, cluster: str, topic: str, configs: Mapping[str, str]) -> None:
        """PolicyRefused when the topic's overrides, as a change leaves them, break a policy."""
        for policy in self.covering(cluster, topic):
            policy.configs_check(configs)

    def partitions_check(self, *, cluster: str, topic: str, partitions: int) -> None:
        """PolicyRefused when a policy refuses the topic's new partition count."""
        for policy in self.covering(cluster, topic):
            policy.partitions_check(partitions)


def _fail(source: str, key: str, problem: str) -> PolicyConfigError:
    return PolicyConfigError(source=source, key=key, problem=problem)


def _strings(table: Mapping[str, Any], key: str, where: str, source: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, f"{where}.{key}", f"expected a list of strings, not {value!r:.80}")
    return value


def _pattern(text: str, key: str, source: str) -> LinearPattern:
    try:
        return linear_compile(text)
    except PatternError as exc:
        raise _fail(source, key, f"not a valid regular expression: {exc}") from None


def _whole(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, key, f"expected a whole number of at least 1, not {value!r:.80}")
    return value


def _limits(table: Mapping[str, Any], key: str, where: str, source: str) -> dict[str, float]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise _fail(source, f"{where}.{key}", 'expected a table: { "config.key" = number }')
    out = {}
    for name, limit in value.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise _fail(source, f"{where}.{key}.{name}", f"expected a number, not {limit!r:.80}")
        out[str(name)] = float(limit)
    return out


def _policy(table: Mapping[str, Any], where: str, source: str) -> TopicPolicy:
    extra = sorted(set(table) - POLICY_KEYS)
    if extra:
        raise _fail(
            source,
            f"{where}.{extra[0]}",
            f"unknown key; known keys: {', '.join(sorted(POLICY_KEYS))}",
        )
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"{where}.name", "missing: give the policy a name (refusals name it)")
    partitions = None
    if "partitions" in table:
        raw = table["partitions"]
        if not isinstance(raw, list) or len(raw) != 2:
            raise _fail(source, f"{where}.partitions", "expected [lowest, highest]")
        low = _whole(raw[0], f"{where}.partitions[0]", source)
        high = _whole(raw[1], f"{where}.partitions[1]", source)
        if low > high:
            raise _fail(source, f"{where}.partitions", f"{low} is more than {high}")
        partitions = (low, high)
    pattern = table.get("name_pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise _fail(source, f"{where}.name_pattern", "expected a regular expression (a string)")
    rf = table.get("min_replication_factor")
    return TopicPolicy(
        name=name.strip(),
        clusters=frozenset(_strings(table, "clusters", where, source) or ["*"]),
        topics=tuple(
            _pattern(t, f"{where}.topics[{i}]", source)
            for i, t in enumerate(_strings(table, "topics", where, source))
        ),
        name_pattern=None
        if pattern is None
        else _pattern(pattern, f"{where}.name_pattern", source),
        partitions=partitions,
        min_replication_factor=None
        if rf is None
        else _whole(rf, f"{where}.min_replication_factor", source),
        min_configs=_limits(table, "min_configs", where, source),
        max_configs=_limits(table, "max_configs", where, source),
        required_configs=tuple(_strings(table, "required_configs", where, source)),
        forbidden_configs=tuple(_strings(table, "forbidden_configs", where, source)),
    )


def policies_parse(tables: Sequence[Any], *, source: str) -> Policies:
    """The [[policies]] tables of a file; PolicyConfigError names what is wrong."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _fail(source, "policies", "expected [[policies]] tables")
    return Policies(tuple(_policy(t, f"policies[{i}]", source) for i, t in enumerate(tables)))
