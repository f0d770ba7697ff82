"""The why page: who may ask about whom, bad questions as 4xx, and the answer's parts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from dashboard.access.rules import access_parse
from tests.helpers import PASSWORD, unique

pytestmark = pytest.mark.django_db

RULES = r"""
[[rules]]
groups = ["payments-team"]
clusters = ["local"]
topics = ['payments\..*']
consumer_groups = ['payments-.*']
actions = ["view", "tail"]

[[rules]]
groups = ["brokers"]
cluster_actions = ["configure"]

[[masks]]
topics = ['payments\..*']
regex = ["\\d{16}"]
"""


@pytest.fixture
def scoped(client, django_user_model):
    user = django_user_model.objects.create_user(username=unique("pay"), password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="payments-team")[0])
    client.force_login(user)
    with override_settings(KAFKAVIEW_ACCESS=access_parse(RULES, source="access.toml")):
        yield client, user


def test_each_rule_says_why_it_allows_or_not_and_the_masks_are_listed(scoped) -> None:
    client, user = scoped
    body = client.get("/api/access/why/", {"topic": "payments.cards", "action": "produce"}).json()
    assert body["user"] == user.username and body["mode"] == "rules"
    assert body["verdict"] == "refused" and body["status"] == 403
    assert [r["allows"] for r in body["view_rules"]] == [True, False]
    assert body["action_rules"][0]["reason"] == "does not allow produce (its actions: tail, view)"
    assert body["action_rules"][1]["reason"].startswith("not for your groups")
    assert body["masks"] == [
        {"index": 0, "topics": [r"payments\..*"], "json_fields": [], "regex": [r"\d{16}"]}
    ]
    assert body["login"] is None  # a local account: its groups are set in kafkaview
    hidden = client.get("/api/access/why/", {"group": "billing-etl"}).json()
    assert hidden["verdict"] == "hidden" and hidden["status"] == 404
    configure = client.get("/api/access/why/", {"action": "configure"}).json()
    assert configure["verdict"] == "refused"
    assert configure["action_rules"][0]["reason"] == (
        "does not allow configure on the cluster (its cluster_actions: none)"
    )
    page = client.get("/access/why/", {"topic": "<script>x</script>", "action": "view"})
    assert page.status_code == 200
    assert b"<script>x</script>" not in page.content  # escaped, like every name we show
    assert b"&lt;script&gt;x&lt;/script&gt;" in page.content


def test_only_a_superuser_asks_about_someone_else_and_bad_questions_are_4xx(
    scoped, client, django_user_model
) -> None:
    _, user = scoped
    other = django_user_model.objects.create_user(username=unique("o"), password=PASSWORD)
    refused = client.get("/api/access/why/", {"user": other.username})
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "forbidden"
    for query, status in [
        ({"topic": "t", "action": "reset"}, 400),
        ({"group": "g", "action": "produce"}, 400),
        ({"topic": "t", "group": "g"}, 400),
        ({"cluster": "nope"}, 404),
    ]:
        assert client.get("/api/access/why/", query).status_code == status, query
    admin = django_user_model.objects.create_superuser(username=unique("a"), password=PASSWORD)
    client.force_login(admin)
    asked = client.get(
        "/api/access/why/", {"user": user.username, "topic": "payments.x", "action": "tail"}
    )
    assert asked.json()["user"] == user.username and asked.json()["verdict"] == "allowed"
    missing = client.get("/api/access/why/", {"user": "nobody-at-all"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "user_not_found"
    mine = client.get("/api/access/why/", {"topic": "hr.x"}).json()
    assert mine["mode"] == "superuser" and mine["verdict"] == "allowed"


def test_without_an_access_file_the_permission_decides(client, django_user_model) -> None:
    user = django_user_model.objects.create_user(username=unique("v"), password=PASSWORD)
    client.force_login(user)
    body = client.get("/api/access/why/", {"topic": "t", "action": "produce"}).json()
    assert body["mode"] == "permissions" and body["verdict"] == "refused"
    assert body["permission"] == {"name": "dashboard.produce_message", "has": False}
    assert client.get("/api/access/why/", {"topic": "t", "action": "tail"}).json()["verdict"] == (
        "allowed"
    )
