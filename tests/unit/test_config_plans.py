"""Config plans without a broker (pure): parsing changes, the diff's rows, what a revert puts
back, and resources that cannot exist."""

from __future__ import annotations

import pytest

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.operate.configs import (
    ConfigChange,
    ConfigValue,
    Resource,
    Synonym,
    _changes_check,
    _rows,
    changes_parse,
    overrides_of,
    revert_changes,
)

TOPIC = Resource("topic", "orders")


def value(name: str, *synonyms: tuple[str, str | None, str], **flags: bool) -> ConfigValue:
    chain = tuple(Synonym(*s) for s in synonyms)
    return ConfigValue(
        name=name,
        value=chain[0].value if chain else None,
        source=chain[0].source if chain else "default",
        read_only=flags.get("read_only", False),
        sensitive=flags.get("sensitive", False),
        synonyms=chain,
    )


KNOWN = {
    "retention.ms": value("retention.ms", ("retention.ms", "1000", "topic")),
    "min.insync.replicas": value(
        "min.insync.replicas",
        ("min.insync.replicas", "2", "cluster"),
        ("min.insync.replicas", "1", "default"),
    ),
    "cleanup.policy": value(
        "cleanup.policy",
        ("cleanup.policy", "compact", "topic"),
        ("log.cleanup.policy", "delete", "default"),
    ),
    "segment.ms": value("segment.ms", ("segment.ms", "604800000", "default")),
}


def test_overrides_are_the_resources_own_keys_only() -> None:
    assert overrides_of(list(KNOWN.values()), TOPIC) == {
        "retention.ms": "1000",
        "cleanup.policy": "compact",
    }
    cluster = Resource("cluster")
    assert overrides_of(list(KNOWN.values()), cluster) == {"min.insync.replicas": "2"}


def test_the_diff_names_what_a_removed_override_falls_back_to() -> None:
    changes = [
        ConfigChange("cleanup.policy", None),
        ConfigChange("retention.ms", None),
        ConfigChange("min.insync.replicas", None),
        ConfigChange("segment.ms", "1000"),
    ]
    rows = {r.name: r for r in _rows(changes, KNOWN, TOPIC)}
    assert (rows["cleanup.policy"].op, rows["cleanup.policy"].after) == ("delete", "delete")
    assert rows["cleanup.policy"].after_source == "default"
    # No broker synonym listed: Kafka's own default, not named.
    assert (rows["retention.ms"].after, rows["retention.ms"].after_source) == (None, "default")
    # Not overridden on the topic: nothing to remove.
    assert rows["min.insync.replicas"].op == "unchanged"
    assert (rows["segment.ms"].op, rows["segment.ms"].after_source) == ("set", "topic")
    same = _rows([ConfigChange("retention.ms", "1000")], KNOWN, TOPIC)
    assert same[0].op == "unchanged"


def test_a_revert_restores_old_overrides_and_removes_added_ones() -> None:
    assert revert_changes(
        overrides={"retention.ms": "1000"}, touched=["retention.ms", "segment.ms"]
    ) == (ConfigChange("retention.ms", "1000"), ConfigChange("segment.ms", None))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "Give the changes"),
        ({"set": ["a"]}, "must map config keys"),
        ({"set": {"a": None}}, "must map config keys"),
        ({"delete": "a"}, "must be a list"),
        ({"delete": [1]}, "must be a list"),
        ({"set": {"a": "1"}, "delete": ["a"]}, "both set and removed"),
    ],
)
def test_changes_that_cannot_be_read_say_why(data, words) -> None:
    with pytest.raises(InvalidRequest, match=words):
        changes_parse(data)


def test_values_become_kafkas_text() -> None:
    assert changes_parse({"set": {"a": True, "b": 3, "c": "x"}, "delete": ["d"]}) == (
        ConfigChange("a", "true"),
        ConfigChange("b", "3"),
        ConfigChange("c", "x"),
        ConfigChange("d", None),
    )


@pytest.mark.parametrize(
    ("known", "change", "words"),
    [
        ({}, ConfigChange("nope", "1"), "is not a config of topic orders"),
        (
            {"ssl.key.password": value("ssl.key.password", sensitive=True)},
            ConfigChange("ssl.key.password", "x"),
            "sensitive",
        ),
        (
            {"log.dirs": value("log.dirs", read_only=True)},
            ConfigChange("log.dirs", "/x"),
            "read-only",
        ),
    ],
)
def test_keys_we_would_not_change_are_refused(known, change, words) -> None:
    with pytest.raises(InvalidRequest, match=words):
        _changes_check([change], known, TOPIC)


@pytest.mark.parametrize(
    ("kind", "name"), [("topic", "bad name"), ("broker", "one"), ("broker", "-1"), ("cluster", "x")]
)
def test_resources_that_cannot_exist_are_refused(kind, name) -> None:
    with pytest.raises(InvalidRequest):
        Resource(kind, name)
