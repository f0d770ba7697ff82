"""Access rules and masks (pure: no Django request, no Kafka): matching tables, file errors,
a parser fuzzed so that no input gives a traceback, and the masker."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.access.rules import AccessConfigError, access_parse
from dashboard.kafka.masking import Masker

RULES = r"""
[[rules]]
groups = ["payments-team"]
clusters = ["prod", "local"]
topics = ["payments\\..*"]
consumer_groups = ["payments-.*"]
actions = ["view", "tail", "reset"]

[[rules]]
groups = ["hr"]
topics = ["hr\\..*"]
actions = ["view", "tail", "produce"]

[[masks]]
topics = ["payments\\..*"]
json_fields = ["card.number", "cvv"]
regex = ["\\b\\d{13,19}\\b"]
"""

ACCESS = access_parse(RULES, source="access.toml")


@pytest.mark.parametrize(
    ("groups", "cluster", "action", "topic", "group", "allowed"),
    [
        (["payments-team"], "local", "view", "payments.orders", None, True),
        (["payments-team"], "local", "tail", "payments.orders", None, True),
        (["payments-team"], "local", "produce", "payments.orders", None, False),
        (["payments-team"], "local", "view", "hr.salaries", None, False),
        (["payments-team"], "local", "view", "payments", None, False),  # full match only
        (["payments-team"], "local", "view", "xpayments.orders", None, False),
        (["payments-team"], "staging", "view", "payments.orders", None, False),
        (["payments-team"], "local", "reset", None, "payments-etl", True),
        (["payments-team"], "local", "reset", None, "billing-etl", False),
        (["payments-team"], "local", "view", None, "payments-etl", True),
        (["hr"], "anywhere", "produce", "hr.salaries", None, True),  # no clusters: all
        (["hr"], "local", "view", None, "payments-etl", False),
        (["payments-team", "hr"], "local", "view", "hr.salaries", None, True),
        ([], "local", "view", "payments.orders", None, False),
        (["viewer"], "local", "view", "payments.orders", None, False),
    ],
)
def test_rule_matching(groups, cluster, action, topic, group, allowed) -> None:  # noqa: PLR0917
    assert (
        ACCESS.allows(groups=groups, cluster=cluster, action=action, topic=topic, group=group)
        is allowed
    )


def test_clusters_seen() -> None:
    assert ACCESS.sees_cluster(groups=["payments-team"], cluster="prod")
    assert not ACCESS.sees_cluster(groups=["payments-team"], cluster="staging")
    assert ACCESS.sees_cluster(groups=["hr"], cluster="staging")
    assert not ACCESS.sees_cluster(groups=["nobody"], cluster="local")


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[[rules]\n", "(file)", "not valid TOML"),
        ("colour = 1\n", "(top level).colour", "unknown key"),
        ('[[rules]]\ngroups = ["a"]\n', "rules[0].actions", "missing"),
        ('[[rules]]\ngroups = ["a"]\nactions = ["fly"]\n', "rules[0].actions[0]", "not one of"),
        ('[[rules]]\nactions = ["view"]\n', "rules[0].groups", "missing"),
        ('[[rules]]\ngroups = "a"\nactions = ["view"]\n', "rules[0].groups", "list of strings"),
        (
            '[[rules]]\ngroups = ["a"]\nactions = ["view"]\ntopics = ["("]\n',
            "rules[0].topics[0]",
            "not a valid regular expression",
        ),
        ('[[rules]]\ngroups = ["a"]\nactions = ["view"]\nown = 1\n', "rules[0].own", "unknown"),
        ('[[masks]]\njson_fields = ["a"]\n', "masks[0].topics", "missing"),
        ('[[masks]]\ntopics = ["x"]\n', "masks[0]", "json_fields or regex"),
        (
            '[[masks]]\ntopics = ["x"]\njson_fields = ["a..b"]\n',
            "masks[0].json_fields[0]",
            "dotted",
        ),
        ("rules = 3\n", "rules", "[[rules]]"),
    ],
)
def test_a_bad_file_names_the_file_the_key_and_the_problem(text, key, problem) -> None:
    with pytest.raises(AccessConfigError) as caught:
        access_parse(text, source="/etc/kafkaview/access.toml")
    assert caught.value.source == "/etc/kafkaview/access.toml"
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"/etc/kafkaview/access.toml: {key}: ")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_no_input_gives_a_traceback(text: str) -> None:
    with contextlib.suppress(AccessConfigError):
        access_parse(text, source="fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["groups", "clusters", "topics", "consumer_groups", "actions", "x"]),
        st.one_of(
            st.lists(st.sampled_from(["view", "tail", "(", ".*", "a", ""]), max_size=3),
            st.integers(),
            st.text(max_size=5),
        ),
        max_size=6,
    )
)
def test_no_rule_table_gives_a_traceback(table: dict) -> None:
    lines = ["[[rules]]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    with contextlib.suppress(AccessConfigError):
        access_parse("\n".join(lines) + "\n", source="fuzz.toml")


def test_masks_hide_json_fields_and_numbers_in_any_text() -> None:
    masker = ACCESS.masker(topic="payments.orders")
    assert masker is not None and ACCESS.masker(topic="hr.salaries") is None
    value = {
        "card": {"number": "4111111111111111", "holder": "Ann"},
        "cvv": 123,
        "note": "paid with 4111111111111111 today",
        "items": [{"card": {"number": "5500005555555559"}}],
        "amount": 12,
    }
    masked, hidden = masker.data(json.dumps(value).encode())
    assert hidden
    assert json.loads(masked or b"") == {
        "card": {"number": "***", "holder": "Ann"},
        "cvv": "***",
        "note": "paid with *** today",
        "items": [{"card": {"number": "***"}}],
        "amount": 12,
    }
    assert masker.data(b"card 4111111111111111") == (b"card ***", True)
    assert masker.data(b"nothing to hide") == (b"nothing to hide", False)
    # Bytes a mask cannot read are hidden whole (fail closed), never passed through as hex.
    assert masker.data(b"\xff\xfe4111111111111111") == (
        b"*** hidden: not UTF-8 text (18 bytes), so a mask cannot read it",
        True,
    )
    assert masker.data(None) == (None, False)
    assert masker.data(b"[1, 2]") == (b"[1, 2]", False)


def test_an_empty_masker_changes_nothing() -> None:
    assert Masker.of(json_fields=[], patterns=[]).data(b'{"a": 1}') == (b'{"a": 1}', False)
