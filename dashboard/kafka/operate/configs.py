"""Configs of topics, brokers and the cluster default: read, plan a change, apply, revert.

Sent through our protocol module rather than librdkafka: its describe folds synonyms
of the same name into one (a topic's min.insync.replicas set cluster-wide reads as the
static default), and it cannot name the cluster-wide default resource (""). With the
ordered synonyms a plan says exactly what a removed override falls back to.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dashboard.kafka.client.brokers import BrokerNode, answer, brokers_all, check, send
from dashboard.kafka.client.clients import request_timeout
from dashboard.kafka.client.failures import UNKNOWN_TOPIC_OR_PARTITION
from dashboard.kafka.errors import BrokerNotFound, InvalidRequest, KafkaViewError, TopicNotFound
from dashboard.kafka.topics import topic_name_check

Kind = Literal["topic", "broker", "cluster"]

# Kafka's ConfigResource.Type and ConfigEntry.ConfigSource codes.
RESOURCE_TYPES: dict[Kind, int] = {"topic": 2, "broker": 4, "cluster": 4}
SOURCES = {
    0: "unknown",
    1: "topic",  # DYNAMIC_TOPIC_CONFIG: an override on the topic
    2: "broker",  # DYNAMIC_BROKER_CONFIG: set on this broker at run time
    3: "cluster",  # DYNAMIC_DEFAULT_BROKER_CONFIG: the cluster-wide dynamic default
    4: "static",  # STATIC_BROKER_CONFIG: server.properties
    5: "default",  # DEFAULT_CONFIG: Kafka's built-in default
    6: "logger",
    7: "client-metrics",
    8: "group",
}
# Where each kind of resource keeps the overrides we may set or remove.
OVERRIDE_SOURCE: dict[Kind, int] = {"topic": 1, "broker": 2, "cluster": 3}
SET, DELETE = 0, 1
SENSITIVE_SHOWN = "(sensitive: not shown)"
MAX_VALUE_CHARS = 10_000


@dataclass(frozen=True)
class Resource:
    """What a config belongs to: a topic, one broker, or the cluster-wide broker default."""

    kind: Kind
    name: str = ""  # topic name, broker id; "" for the cluster default

    def __post_init__(self) -> None:
        if self.kind == "topic":
            topic_name_check(self.name)
        elif self.kind == "broker" and not (self.name.isascii() and self.name.isdigit()):
            raise InvalidRequest(f"{self.name[:50]!r} is not a broker id (a whole number).")
        elif self.kind == "cluster" and self.name:
            raise InvalidRequest("The cluster-wide default has no name.")

    @property
    def label(self) -> str:
        """How the resource is named on pages and in the audit."""
        if self.kind == "topic":
            return f"topic {self.name}"
        return f"broker {self.name}" if self.kind == "broker" else "every broker (cluster default)"

    @property
    def level(self) -> str:
        """The source name of an override set on this resource."""
        return SOURCES[OVERRIDE_SOURCE[self.kind]]


@dataclass(frozen=True)
class Synonym:
    """One place a config's value may come from, in Kafka's order of precedence."""

    name: str
    value: str | None
    source: str


@dataclass(frozen=True)
class ConfigValue:
    """One config of a resource: its value (None when sensitive), where it comes from."""

    name: str
    value: str | None
    source: str
    read_only: bool
    sensitive: bool
    synonyms: tuple[Synonym, ...]

    def inherited(self, level: str) -> Synonym | None:
        """What the config falls back to when the override at this level is removed."""
        for synonym in self.synonyms:
            if synonym.source != level:
                return synonym
        return None


@dataclass(frozen=True)
class ConfigChange:
    """Set a key to a value, or (value None) remove the resource's override of it."""

    name: str
    value: str | None


@dataclass(frozen=True)
class ConfigRow:
    """One line of a config diff: before and after, value and source."""

    name: str
    op: str  # "set", "delete", or "unchanged" (nothing to do)
    before: str | None
    before_source: str
    after: str | None
    after_source: str


@dataclass(frozen=True)
class ConfigPlan:
    """A previewed config change: the diff, the overrides it replaces, a fingerprint."""

    cluster: str
    resource: Resource
    changes: tuple[ConfigChange, ...]
    rows: tuple[ConfigRow, ...]
    overrides: dict[str, str]  # every override at the resource's level before the change
    fingerprint: str

    @property
    def effective(self) -> tuple[ConfigChange, ...]:
        """The changes that do something (a removal of a key not overridden does not)."""
        doing = {r.name for r in self.rows if r.op != "unchanged"}
        return tuple(c for c in self.changes if c.name in doing)

    def overrides_after(self) -> dict[str, str]:
        """The resource's overrides as the plan leaves them."""
        after = dict(self.overrides)
        for change in self.effective:
            if change.value is None:
                after.pop(change.name, None)
            else:
                after[change.name] = change.value
        return after


class ConfigPlanChanged(KafkaViewError):
    """The configs changed between the preview and the apply; carries the new plan."""

    def __init__(self, plan: ConfigPlan) -> None:
        self.plan = plan
        super().__init__(
            f"The configs of {plan.resource.label} changed since the preview: "
            "check the new preview and apply again."
        )


def _node(cluster: str, resource: Resource) -> BrokerNode:
    """The broker to ask: the broker itself for its own configs, else any."""
    nodes = brokers_all(cluster=cluster)
    if resource.kind == "broker":
        for node in nodes:
            if str(node.id) == resource.name:
                return node
        raise BrokerNotFound(cluster=cluster, broker=resource.name)
    if not nodes:
        raise InvalidRequest(f"Cluster {cluster!r} named no brokers.")
    return nodes[0]


def _resource_check(cluster: str, resource: Resource, code: int, message: str | None) -> None:
    if resource.kind == "topic" and code == UNKNOWN_TOPIC_OR_PARTITION:
        raise TopicNotFound(cluster=cluster, topic=resource.name)
    check(code, message, cluster=cluster)


def configs_describe(*, cluster: str, resource: Resource) -> tuple[ConfigValue, ...]:
    """Every config of the resource with its source and synonyms, sorted by name.

    The cluster-wide default is read through a broker: the default resource lists only
    the keys set on it, a broker lists every key with the defaults among its synonyms.
    """
    node = _node(cluster, resource)
    name = str(node.id) if resource.kind == "cluster" else resource.name
    result = answer(
        send(
            cluster=cluster,
            node=node,
            name="DescribeConfigs",
            values={
                "Resources": [
                    {
                        "ResourceType": RESOURCE_TYPES[resource.kind],
                        "ResourceName": name,
                        "ConfigurationKeys": None,
                    }
                ],
                "IncludeSynonyms": True,
                "IncludeDocumentation": False,
            },
        ),
        cluster=cluster,
    )
    (found,) = result["Results"]
    _resource_check(cluster, resource, found["ErrorCode"], found["ErrorMessage"])
    values = []
    for entry in found["Configs"]:
        sensitive = bool(entry["IsSensitive"])
        values.append(
            ConfigValue(
                name=entry["Name"],
                value=None if sensitive else entry["Value"],
                source=SOURCES.get(entry["ConfigSource"], "unknown"),
                read_only=bool(entry["ReadOnly"]),
                sensitive=sensitive,
                synonyms=tuple(
                    Synonym(
                        name=s["Name"],
                        value=None if sensitive else s["Value"],
                        source=SOURCES.get(s["Source"], "unknown"),
                    )
                    for s in entry.get("Synonyms") or ()
                ),
            )
        )
    return tuple(sorted(values, key=lambda v: v.name))


def overrides_of(values: Sequence[ConfigValue], resource: Resource) -> dict[str, str]:
    """The overrides set on the resource itself (what a revert restores), sensitive ones out."""
    level = resource.level
    out = {}
    for value in values:
        if value.sensitive:
            continue
        for synonym in value.synonyms:
            # Broker synonyms name the key as the broker spells it (log.retention.ms for
            # retention.ms); only the resource's own key counts as its override.
            if synonym.source == level and synonym.name == value.name and synonym.value is not None:
                out[value.name] = synonym.value
    return out


def _changes_check(
    changes: Sequence[ConfigChange], known: Mapping[str, ConfigValue], resource: Resource
) -> None:
    if not changes:
        raise InvalidRequest("Nothing to change: give at least one key to set or remove.")
    seen: set[str] = set()
    for change in changes:
        name = change.name
        if name in seen:
            raise InvalidRequest(f"{name[:200]!r} is given twice: set or remove it once.")
        seen.add(name)
        if name not in known:
            raise InvalidRequest(f"{name[:200]!r} is not a config of {resource.label}.")
        if known[name].sensitive:
            raise InvalidRequest(
                f"{name!r} is sensitive (a password or secret): kafkaview neither shows nor "
                "changes it, so no change of it could be reviewed or undone."
            )
        if known[name].read_only:
            raise InvalidRequest(
                f"{name!r} is read-only on a running {resource.kind}: it is set in "
                "server.properties and takes a restart."
            )
        if change.value is not None and len(change.value) > MAX_VALUE_CHARS:
            raise InvalidRequest(f"The value of {name!r} is longer than {MAX_VALUE_CHARS} chars.")


def _rows(
    changes: Sequence[ConfigChange], known: Mapping[str, ConfigValue], resource: Resource
) -> tuple[ConfigRow, ...]:
    level = resource.level
    rows = []
    for change in changes:
        now = known[change.name]
        current = overrides_of([now], resource).get(change.name)
        overridden = current is not None
        if change.value is None:
            if overridden:
                # Kafka lists a broker synonym only when the broker has a value for it;
                # without one the topic falls back to Kafka's own default, unnamed here.
                fallback = now.inherited(level) or Synonym(change.name, None, "default")
                after, after_source = fallback.value, fallback.source
            else:
                after, after_source = now.value, now.source
            rows.append(
                ConfigRow(
                    name=change.name,
                    op="delete" if overridden else "unchanged",
                    before=now.value,
                    before_source=now.source,
                    after=after,
                    after_source=after_source,
                )
            )
        else:
            same = current == change.value
            rows.append(
                ConfigRow(
                    name=change.name,
                    op="unchanged" if same else "set",
                    before=now.value,
                    before_source=now.source,
                    after=change.value,
                    after_source=level,
                )
            )
    return tuple(rows)


def _fingerprint(
    resource: Resource, overrides: Mapping[str, str], rows: Sequence[ConfigRow]
) -> str:
    text = json.dumps(
        [
            resource.kind,
            resource.name,
            sorted(overrides.items()),
            [list(vars(r).values()) for r in rows],
        ],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _alter(
    *, cluster: str, resource: Resource, changes: Sequence[ConfigChange], validate_only: bool
) -> None:
    node = _node(cluster, resource)
    result = answer(
        send(
            cluster=cluster,
            node=node,
            name="IncrementalAlterConfigs",
            values={
                "Resources": [
                    {
                        "ResourceType": RESOURCE_TYPES[resource.kind],
                        "ResourceName": resource.name,
                        "Configs": [
                            {
                                "Name": c.name,
                                "ConfigOperation": DELETE if c.value is None else SET,
                                "Value": c.value,
                            }
                            for c in changes
                        ],
                    }
                ],
                "ValidateOnly": validate_only,
            },
        ),
        cluster=cluster,
    )
    for response in result["Responses"]:
        _resource_check(cluster, resource, response["ErrorCode"], response["ErrorMessage"])


def config_plan(*, cluster: str, resource: Resource, changes: Sequence[ConfigChange]) -> ConfigPlan:
    """Read the configs, check the changes (the broker validates them too), and diff them."""
    values = configs_describe(cluster=cluster, resource=resource)
    known = {v.name: v for v in values}
    _changes_check(changes, known, resource)
    rows = _rows(changes, known, resource)
    overrides = overrides_of(values, resource)
    plan = ConfigPlan(
        cluster=cluster,
        resource=resource,
        changes=tuple(changes),
        rows=rows,
        overrides=overrides,
        fingerprint=_fingerprint(resource, overrides, rows),
    )
    if plan.effective:
        # The broker's own checks (a value of the wrong type, out of range, a broker
        # config that is not dynamic) answer before anything changes.
        _alter(cluster=cluster, resource=resource, changes=plan.effective, validate_only=True)
    return plan


def config_confirm(
    *, cluster: str, resource: Resource, changes: Sequence[ConfigChange], fingerprint: str | None
) -> ConfigPlan:
    """Plan again; ConfigPlanChanged when a fingerprint is given and the plan is not that one."""
    plan = config_plan(cluster=cluster, resource=resource, changes=changes)
    if fingerprint is not None and plan.fingerprint != fingerprint:
        raise ConfigPlanChanged(plan)
    return plan


def _same(shown: str | None, wanted: str | None) -> bool:
    """Whether the broker shows the value asked for (it writes 1e9 back as 1.0E9)."""
    if shown is None or wanted is None:
        return shown is wanted
    if shown == wanted:
        return True
    try:
        return float(shown) == float(wanted)
    except ValueError:
        return False


def config_settled(plan: ConfigPlan) -> bool:
    """Whether the broker we ask already shows the plan's changes."""
    now = overrides_of(
        configs_describe(cluster=plan.cluster, resource=plan.resource), plan.resource
    )
    return all(_same(now.get(c.name), c.value) for c in plan.effective)


def config_apply(
    *,
    plan: ConfigPlan,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> bool:
    """Apply the plan's effective changes; True once a describe shows them.

    KRaft brokers learn a change from the metadata log a moment after the controller
    accepts it: until then a describe (the page after the apply, the next plan, the
    overrides a revert keeps) would read the old values. So the apply waits, up to the
    request timeout, for the change to show; False if it has not yet.
    """
    if not plan.effective:
        return True
    _alter(
        cluster=plan.cluster, resource=plan.resource, changes=plan.effective, validate_only=False
    )
    deadline = monotonic() + request_timeout()
    while not config_settled(plan):
        if monotonic() > deadline:
            return False
        sleep(0.05)
    return True


def revert_changes(
    *, overrides: Mapping[str, str], touched: Sequence[str]
) -> tuple[ConfigChange, ...]:
    """The changes that put the touched keys back as they were: the old override, or none."""
    return tuple(ConfigChange(name, overrides.get(name)) for name in touched)


def changes_parse(data: Any) -> tuple[ConfigChange, ...]:
    """Changes from JSON-like input: {"set": {key: value}, "delete": [key, ...]}."""
    if not isinstance(data, Mapping):
        raise InvalidRequest('Give the changes as {"set": {"key": "value"}, "delete": ["key"]}.')
    to_set = data.get("set") or {}
    to_delete = data.get("delete") or []
    if not isinstance(to_set, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in to_set.items()
    ):
        raise InvalidRequest('"set" must map config keys to values (strings or numbers).')
    if not isinstance(to_delete, list) or not all(isinstance(k, str) for (k,) in zip(to_delete)):
        raise InvalidRequest('"delete" must be a list of config keys.')
    both = set(to_set) & set(to_delete)
    if both:
        raise InvalidRequest(f"{sorted(both)[0]!r} is both set and removed: choose one.")
    out = [ConfigChange(str(k), _text(v)) for k, v in to_set.items()]
    out += [ConfigChange(k, None) for k in to_delete]
    return tuple(out)


def _text(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plan_rows_json(plan: ConfigPlan) -> list[dict[str, Any]]:
    """The diff as JSON rows."""
    return [vars(r).copy() for r in plan.rows]
