"""LDAP sign-in against a real slapd: bind, group search, the mapping, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from dashboard.access.rules import access_parse
from dashboard.auth.config import auth_parse
from dashboard.auth.models import ExternalIdentity
from devtools.slapd import GROUPS, PEOPLE, LocalLdap
from tests.conftest import roles_ensure
from tests.helpers import unique
from tests.sign_in import ACCESS, MAPPINGS

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = (
    """
password_login = {password_login}
[ldap]
uri = "{uri}"
bind_dn = "{bind_dn}"
user_search_base = "{people}"
group_search_base = "{groups}"
label = "Acme directory"

"""
    + MAPPINGS
)


@pytest.fixture(scope="module")
def directory() -> Iterator[dict[str, Any]]:
    """slapd with three people in three groups, and one in a group that maps to nothing."""
    ldap = LocalLdap()
    ldap.start()
    people = {uid: ldap.user_add(uid, f"{uid}-secret") for uid in ("vera", "pat", "otto", "hugo")}
    ldap.group_add("kafka-viewers", [people["vera"]])
    ldap.group_add("team-payments-eu", [people["pat"]])
    ldap.group_add("kafka-operators", [people["otto"]])
    ldap.group_add("hr", [people["hugo"]])
    yield {"ldap": ldap, "people": people}
    ldap.stop()


def sign_in_settings(ldap: LocalLdap, *, password_login: bool = True) -> override_settings:
    config = auth_parse(
        AUTH.format(
            uri=ldap.uri,
            bind_dn=ldap.admin_dn,
            people=PEOPLE,
            groups=GROUPS,
            password_login=str(password_login).lower(),
        ),
        source="auth.toml",
    )
    backends = [
        "axes.backends.AxesStandaloneBackend",
        *(["django.contrib.auth.backends.ModelBackend"] if password_login else []),
        "dashboard.auth.ldap.LdapBackend",
        *([] if password_login else ["dashboard.auth.sync.PermissionsBackend"]),
    ]
    return override_settings(
        KAFKAVIEW_AUTH=config,
        KAFKAVIEW_LDAP_BIND_PASSWORD=ldap.password,
        AUTHENTICATION_BACKENDS=backends,
        KAFKAVIEW_ACCESS=access_parse(ACCESS, source="access.toml"),
    )


def login(client: Any, uid: str, password: str | None = None) -> Any:
    client.logout()
    return client.post(
        "/accounts/login/", {"username": uid, "password": password or f"{uid}-secret"}
    )


def groups_of(uid: str) -> list[str]:
    user = get_user_model().objects.get(username=uid)
    return sorted(user.groups.values_list("name", flat=True))


def test_three_directory_users_get_the_groups_their_ldap_groups_map_to(
    directory, client, make_topic
) -> None:
    roles_ensure()
    payments, hr = make_topic(f"payments.{unique('t')}"), make_topic(f"hr.{unique('t')}")
    ldap = directory["ldap"]
    with sign_in_settings(ldap):
        expected = {"vera": ["viewer"], "pat": ["payments-team"], "otto": ["operator"]}
        for uid, groups in expected.items():
            answer = login(client, uid)
            assert answer.status_code == 302, answer.content.decode()[:500]
            assert groups_of(uid) == groups
            identity = ExternalIdentity.objects.get(user__username=uid)
            assert identity.method == "ldap" and identity.subject == directory["people"][uid]
            # The scoped rules apply to them as to any member of those groups.
            seen = {
                t: client.get(f"/clusters/local/topics/{t}/").status_code for t in (payments, hr)
            }
            assert seen == {payments: 200, hr: 404 if uid == "pat" else 200}
            produce = client.get(f"/clusters/local/topics/{payments}/produce/").status_code
            assert produce == (200 if uid == "otto" else 403)
        why = client.get("/api/access/why/", {"topic": payments, "action": "produce"}).json()
        assert why["login"]["idp_groups"] == ["kafka-operators"]
        assert why["login"]["because"] == [
            {
                "idp_group": "kafka-operators",
                "mapping": 2,
                "mapping_line": "idp = 'kafka-operators'",
                "django_group": "operator",
            }
        ]
        assert why["verdict"] == "allowed"


def test_a_user_taken_out_of_an_ldap_group_loses_its_django_group_at_the_next_login(
    directory, client
) -> None:
    ldap = directory["ldap"]
    with sign_in_settings(ldap):
        moved = ldap.user_add(f"mia{unique('u')[-6:]}", "mia-secret")
        uid = moved.split(",")[0][4:]
        ldap.group_add(f"team-payments-{uid}", [moved])
        ldap.member_add("kafka-viewers", moved)
        assert login(client, uid, "mia-secret").status_code == 302
        assert groups_of(uid) == ["payments-team", "viewer"]
        # A group the admin gave by hand, which no mapping names, is left alone.
        user = get_user_model().objects.get(username=uid)
        user.groups.add(user.groups.model.objects.get_or_create(name="hand-made")[0])
        ldap.member_remove(f"team-payments-{uid}", moved)
        assert login(client, uid, "mia-secret").status_code == 302
        assert groups_of(uid) == ["hand-made", "viewer"]


def test_what_ldap_refuses_is_said_on_the_login_page(directory, client, django_user_model) -> None:
    ldap = directory["ldap"]
    with sign_in_settings(ldap):
        unmapped = login(client, "hugo")
        assert unmapped.status_code == 403
        assert "map to no kafkaview group" in unmapped.content.decode()
        assert not django_user_model.objects.filter(username="hugo").exists()
        wrong = login(client, "vera", "not-her-password")
        assert wrong.status_code == 200 and "didn't match" in wrong.content.decode()
        # A local account named like a directory user is not taken over by its password.
        taken = ldap.user_add("root", "root-secret")
        ldap.member_add("kafka-operators", taken)
        django_user_model.objects.create_superuser(username="root", password="local-root-pw-1")
        refused = login(client, "root", "root-secret")
        assert refused.status_code == 403
        assert "already exists in kafkaview" in refused.content.decode()
        assert login(client, "root", "local-root-pw-1").status_code == 302  # still theirs
    down = LocalLdap()  # never started: nothing listens on its port
    with sign_in_settings(down):
        answer = login(client, "vera")
        assert answer.status_code == 503
        assert f"The directory at {down.uri} did not answer" in answer.content.decode()


def test_with_password_login_off_only_the_directory_signs_in(
    directory, client, django_user_model
) -> None:
    ldap = directory["ldap"]
    django_user_model.objects.create_user(username="local-only", password="local-only-pw-1")
    with sign_in_settings(ldap, password_login=False):
        assert login(client, "local-only", "local-only-pw-1").status_code == 200
        assert login(client, "vera").status_code == 302
        page = client.get("/accounts/login/")
        assert b"Acme directory" in page.content
