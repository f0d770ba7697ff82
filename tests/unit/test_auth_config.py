"""The sign-in file: mapping IdP groups, the errors it names, the why of the access rules."""
# ruff: noqa: E501 - the table of bad files reads best one case a line

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.access.rules import access_parse
from dashboard.auth.config import AuthConfigError, auth_parse, claim_groups

GOOD = """
[oidc]
issuer = "https://sso.example.com/realms/acme/"
client_id = "kafkaview"

[[group_mappings]]
idp = "kafka-viewers"
django = ["viewer"]

[[group_mappings]]
pattern = "/?team-payments(-.*)?"
django = ["payments-team", "viewer"]
"""


def test_a_login_gets_every_group_its_idp_groups_map_to_and_says_which_line_gave_it() -> None:
    config = auth_parse(GOOD, source="auth.toml")
    assert config.oidc is not None and config.oidc.issuer == "https://sso.example.com/realms/acme"
    assert config.oidc.discovery_url.endswith("/realms/acme/.well-known/openid-configuration")
    mapped = config.mapping.apply(["/team-payments-eu", "kafka-viewers", "hr", "kafka-viewers"])
    assert mapped.received == ("/team-payments-eu", "kafka-viewers", "hr")
    assert mapped.django == ("payments-team", "viewer")
    assert mapped.unmatched == ("hr",)
    assert ("/team-payments-eu", 1, "payments-team") in mapped.because
    assert ("kafka-viewers", 0, "viewer") in mapped.because
    assert config.mapping.managed == {"viewer", "payments-team"}
    # Exact means exact: no prefix, no case folding.
    assert config.mapping.apply(["kafka-viewers-old", "KAFKA-VIEWERS"]).django == ()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[oidc]\nclient_id = 'x'", "oidc.issuer", "missing"),
        ("[oidc]\nissuer = 'sso.example.com'\nclient_id = 'x'", "oidc.issuer", "not a URL"),
        (GOOD.replace('client_id = "kafkaview"', "client_id = 3"), "oidc.client_id", "string"),
        (GOOD + "\n[oidc.extra]\n", "oidc.extra", "unknown key"),
        (GOOD.replace('idp = "kafka-viewers"', 'idp = "a"\npattern = "b"'), "group_mappings[0]", "exactly one"),
        (GOOD.replace('"/?team-payments(-.*)?"', '"(unclosed"'), "group_mappings[1].pattern", "regular expression"),
        (GOOD.replace('django = ["viewer"]', "django = []"), "group_mappings[0].django", "non-empty list"),
        (GOOD.replace('django = ["viewer"]', 'django = "viewer"'), "group_mappings[0].django", "list"),
        ('[oidc]\nissuer = "https://x"\nclient_id = "c"', "group_mappings", "map IdP groups"),
        (GOOD.replace('client_id = "kafkaview"', 'client_id = "k"\ngroups_claim = ["groups"]'), "oidc.groups_claim", "string"),
        (GOOD.replace('client_id = "kafkaview"', 'client_id = "k"\ngroups_claim = "a b"'), "oidc.groups_claim", "claim name"),
        (GOOD.replace('client_id = "kafkaview"', 'client_id = "k"\nscopes = ["email"]'), "oidc.scopes", "openid"),
        ("password_login = false", "password_login", "nobody could log in"),
        ("allow_unmapped = true\n[ldap]\nuri = 'ldap://h'", "ldap.user_search_base", "one of them"),
        ("allow_unmapped = true\n[ldap]\nuri = 'http://h'\nuser_search_base = 'o=x'", "ldap.uri", "not a URL"),
        ("allow_unmapped = true\n[ldap]\nuri = 'ldap://h'\nuser_search_base = 'o=x'\ngroup_type = 'ad'", "ldap.group_type", "not one of"),
        ("allow_unmapped = true\n[ldap]\nuri = 'ldap://h'\nuser_search_base = 'o=x'\nuser_filter = 'uid=x'", "ldap.user_filter", "%(user)s"),
        ("oidc = 'x'", "oidc", "table"),
        ("[oidc\n", "(file)", "TOML"),
    ],
)  # fmt: skip
def test_a_bad_sign_in_file_names_the_file_the_key_and_the_problem(text, key, problem) -> None:
    with pytest.raises(AuthConfigError) as raised:
        auth_parse(text, source="/etc/kafkaview/auth.toml")
    assert raised.value.source == "/etc/kafkaview/auth.toml"
    assert raised.value.key == key, raised.value
    assert problem in raised.value.problem
    assert str(raised.value).startswith(f"/etc/kafkaview/auth.toml: {key}: ")


def test_the_groups_claim_must_be_a_list_of_names_and_may_be_a_dotted_path() -> None:
    assert claim_groups({"groups": ["a", "b"]}, "groups") == ["a", "b"]
    assert claim_groups({"realm_access": {"roles": ["r"]}}, "realm_access.roles") == ["r"]
    cases: list[tuple[dict[str, object], str]] = [
        ({}, "no 'groups' claim"),
        ({"groups": "a,b"}, "is str, not a list"),
        ({"groups": [1]}, "is list, not a list of group names"),
        ({"groups": {"a": 1}}, "is dict"),
    ]
    for claims, said in cases:
        with pytest.raises(ValueError, match=said):
            claim_groups(claims, "groups")


RULES = access_parse(
    r"""
[[rules]]
groups = ["pay"]
clusters = ["local"]
topics = ['payments\..*']
consumer_groups = ["payments-.*"]
actions = ["view", "tail", "reset"]

[[rules]]
groups = ["ops"]
topics = [".*"]
consumer_groups = [".*"]
actions = ["view", "produce"]
cluster_actions = ["configure"]

[[rules]]
groups = ["pay", "ops"]
clusters = ["prod"]
topics = ['hr\..*']
actions = ["view"]
""",
    source="access.toml",
)


@given(
    groups=st.sets(st.sampled_from(["pay", "ops", "hr", "x"])),
    cluster=st.sampled_from(["local", "prod", "other"]),
    action=st.sampled_from(["view", "tail", "produce", "reset", "configure", "delete"]),
    target=st.sampled_from(
        [
            ("topic", "payments.a"),
            ("topic", "hr.b"),
            ("group", "payments-etl"),
            ("group", "x"),
            None,
        ]
    ),
)
def test_the_explanation_allows_exactly_when_the_rules_do(groups, cluster, action, target) -> None:
    kind = {"topic": target[1]} if target and target[0] == "topic" else {}
    kind |= {"group": target[1]} if target and target[0] == "group" else {}
    verdicts = RULES.explain(groups=groups, cluster=cluster, action=action, **kind)
    assert [v.index for v in verdicts] == [0, 1, 2]
    assert any(v.allows for v in verdicts) == RULES.allows(
        groups=groups, cluster=cluster, action=action, **kind
    )
    for verdict in verdicts:
        assert verdict.reason  # every rule says why, allowing or not
        if not verdict.rule.groups & groups:
            assert verdict.reason.startswith("not for your groups")
