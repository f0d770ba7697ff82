"""Topic policies and cluster actions of the access file (pure): what each rule refuses, by name,
and what a malformed [[policies]] table is told."""

from __future__ import annotations

import pytest

from dashboard.access.rules import AccessConfigError, access_parse
from dashboard.access.topic_policy import PolicyRefused

FILE = r"""
[[rules]]
groups = ["platform"]
cluster_actions = ["configure"]

[[rules]]
groups = ["team"]
topics = ["team\\..*"]
actions = ["view", "create", "configure", "delete"]

[[policies]]
name = "prod"
clusters = ["prod"]
name_pattern = "[a-z0-9.-]+"
partitions = [3, 12]
min_replication_factor = 3
min_configs = { "min.insync.replicas" = 2 }
max_configs = { "retention.ms" = 604800000 }
forbidden_configs = ["unclean.leader.election.enable"]

[[policies]]
name = "audit-topics"
topics = ["audit\\..*"]
required_configs = ["retention.ms"]
"""

ACCESS = access_parse(FILE, source="access.toml")
POLICIES = ACCESS.policies
GOOD = {"min.insync.replicas": "2"}


def test_cluster_actions_allow_the_cluster_alone() -> None:
    assert ACCESS.allows(groups=["platform"], cluster="prod", action="configure")
    assert not ACCESS.allows(groups=["team"], cluster="prod", action="configure")
    assert not ACCESS.allows(
        groups=["platform"], cluster="prod", action="configure", topic="team.x"
    )
    assert ACCESS.allows(groups=["team"], cluster="prod", action="delete", topic="team.x")


@pytest.mark.parametrize(
    ("topic", "partitions", "rf", "configs", "rule"),
    [
        ("Bad_Name", 3, 3, GOOD, "name_pattern"),
        ("ok", 2, 3, GOOD, "partitions"),
        ("ok", 13, 3, GOOD, "partitions"),
        ("ok", 3, 2, GOOD, "min_replication_factor"),
        ("ok", 3, 3, {}, "min_configs"),
        ("ok", 3, 3, {"min.insync.replicas": "1"}, "min_configs"),
        ("ok", 3, 3, {**GOOD, "retention.ms": "999999999999"}, "max_configs"),
        ("ok", 3, 3, {**GOOD, "retention.ms": "forever"}, "max_configs"),
        ("ok", 3, 3, {**GOOD, "unclean.leader.election.enable": "true"}, "forbidden_configs"),
        ("audit.x", 3, 3, GOOD, "required_configs"),
    ],
)
def test_each_rule_refuses_by_name(topic, partitions, rf, configs, rule) -> None:
    with pytest.raises(PolicyRefused) as refused:
        POLICIES.create_check(
            cluster="prod",
            topic=topic,
            partitions=partitions,
            replication_factor=rf,
            configs=configs,
        )
    assert refused.value.rule == rule
    assert rule in str(refused.value)


def test_a_topic_that_fits_passes_and_other_clusters_are_not_covered() -> None:
    POLICIES.create_check(
        cluster="prod", topic="orders", partitions=6, replication_factor=3, configs=GOOD
    )
    POLICIES.create_check(cluster="dev", topic="X", partitions=1, replication_factor=1, configs={})
    POLICIES.partitions_check(cluster="prod", topic="orders", partitions=12)
    with pytest.raises(PolicyRefused):
        POLICIES.partitions_check(cluster="prod", topic="orders", partitions=24)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('[[policies]]\nname = "x"\nwhat = 1', "policies[0].what"),
        ("[[policies]]\npartitions = [1, 2]", "policies[0].name"),
        ('[[policies]]\nname = "x"\npartitions = [5, 2]', "policies[0].partitions"),
        ('[[policies]]\nname = "x"\npartitions = [0, 2]', "policies[0].partitions[0]"),
        ('[[policies]]\nname = "x"\nmin_configs = { a = "2" }', "policies[0].min_configs.a"),
        ('[[policies]]\nname = "x"\nname_pattern = "("', "policies[0].name_pattern"),
        (
            '[[policies]]\nname = "x"\nmin_replication_factor = true',
            "policies[0].min_replication_factor",
        ),
        ('[[rules]]\ngroups = ["g"]\ncluster_actions = ["delete"]', "rules[0].cluster_actions[0]"),
    ],
)
def test_a_bad_table_names_the_key(table, key) -> None:
    with pytest.raises(AccessConfigError) as bad:
        access_parse(table, source="access.toml")
    assert bad.value.key == key
    assert str(bad.value).startswith(f"access.toml: {key}: ")
