"""OpenID Connect sign-in through a real Keycloak, in a real browser, on a real Daphne.

Three users whose Keycloak groups map to viewer, a scoped team and operator log in with
Chromium; each may do exactly what the access rules say, and the why page's verdict is
the status the pages answer, for a table of (user, resource, action).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from dashboard.auth.config import auth_load, auth_parse
from dashboard.auth.models import ExternalIdentity
from devtools.broker import LocalBroker, free_port
from devtools.daphne import daphne_start, http_wait
from devtools.keycloak import LocalKeycloak
from tests.conftest import roles_ensure
from tests.helpers import BASE_DIR, CACHE_DIR, manage_check, unique, worker_log
from tests.servers import daphne_env
from tests.sign_in import ACCESS, MAPPINGS

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")

AUTH = (
    """
[oidc]
issuer = "{issuer}"
client_id = "{client_id}"
label = "Sign in with Keycloak"

"""
    + MAPPINGS
)


USERS = {"vera": ["kafka-viewers"], "pat": ["team-payments-eu"], "otto": ["kafka-operators"]}


@pytest.fixture(scope="module")
def sso(kafka_broker: LocalBroker, tmp_path_factory, django_db_setup, django_db_blocker):
    """Keycloak with a realm, three users and one who maps to nothing; a Daphne signing in
    through it under the access rules above."""
    keycloak = LocalKeycloak(cache_dir=CACHE_DIR, log=worker_log("test-keycloak.log"))
    keycloak.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    realm = keycloak.realm_create("acme", redirect_base=base)
    for name, groups in USERS.items():
        realm.user_create(name, f"{name}-secret", groups)
    realm.user_create("hugo", "hugo-secret", ["hr"])
    folder: Path = tmp_path_factory.mktemp("sso")
    (folder / "auth.toml").write_text(AUTH.format(issuer=realm.issuer, client_id=realm.client_id))
    (folder / "access.toml").write_text(ACCESS)
    env = daphne_env(
        kafka_broker,
        KAFKAVIEW_AUTH_FILE=str(folder / "auth.toml"),
        KAFKAVIEW_ACCESS_FILE=str(folder / "access.toml"),
        KAFKAVIEW_OIDC_CLIENT_SECRET=realm.client_secret,
    )
    log_path = worker_log("test-daphne-oidc.log")
    with log_path.open("wb") as log:
        daphne = daphne_start(port=port, cwd=BASE_DIR, env=env, log=log)
    try:
        http_wait(f"{base}/healthz", timeout=30, process=daphne)
        yield {"base": base, "realm": realm, "keycloak": keycloak}
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
        keycloak.stop()


@pytest.fixture
def scene(sso, kafka_broker, make_topic) -> Iterator[dict[str, Any]]:
    """A payments topic and group, an hr topic and a billing group, on the session broker."""
    roles_ensure()
    tag = unique("o")
    payments, hr = make_topic(f"payments.cards-{tag}"), make_topic(f"hr.pay-{tag}")
    etl, billing = f"payments-etl-{tag}", f"billing-{tag}"
    for group in (etl, billing):
        committer = Consumer(
            {"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group}
        )
        committer.commit(offsets=[TopicPartition(payments, 0, 0)], asynchronous=False)
        committer.close()
    yield {**sso, "payments": payments, "hr": hr, "etl": etl, "billing": billing}


def off_loop(query: Callable[[], T]) -> T:
    """Run a database query in another thread: Django refuses them in a thread where
    Playwright's event loop runs (the browser fixture's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(query).result(timeout=30)


def groups_of(username: str) -> list[str]:
    user = get_user_model().objects.get(username=username)
    return sorted(user.groups.values_list("name", flat=True))


def sso_login(page: Any, base: str, username: str) -> None:
    """Log in through Keycloak's own form, as a person would."""
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.click("#sso-login")
    page.wait_for_selector("#username")
    page.fill("#username", username)
    page.fill("#password", f"{username}-secret")
    page.click("#kc-login")
    page.wait_for_load_state("networkidle")


def table(scene: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(kind, name, action, page path) for each thing the why page is asked about."""
    c = "/clusters/local"
    p, h, etl, billing = scene["payments"], scene["hr"], scene["etl"], scene["billing"]
    return [
        ("topic", p, "view", f"{c}/topics/{p}/"),
        ("topic", h, "view", f"{c}/topics/{h}/"),
        ("topic", p, "tail", f"{c}/topics/{p}/tail/"),
        ("topic", p, "produce", f"{c}/topics/{p}/produce/"),
        ("topic", h, "produce", f"{c}/topics/{h}/produce/"),
        ("group", etl, "view", f"{c}/groups/{etl}/"),
        ("group", billing, "view", f"{c}/groups/{billing}/"),
        ("group", etl, "reset", f"{c}/groups/{etl}/reset/"),
        ("group", billing, "reset", f"{c}/groups/{billing}/reset/"),
    ]


# What the rules say each user gets for the table's rows, in order.
EXPECTED = {
    "vera": [200, 200, 200, 403, 403, 200, 200, 403, 403],
    "pat": [200, 404, 200, 403, 404, 200, 404, 200, 404],
    "otto": [200, 200, 200, 200, 200, 200, 200, 200, 200],
}


def test_three_users_log_in_through_keycloak_and_the_why_page_says_what_pages_do(
    scene, browser_page
) -> None:
    page, base = browser_page, scene["base"]
    for username, expected in EXPECTED.items():
        sso_login(page, base, username)
        assert page.url.rstrip("/").startswith(base), page.url
        assert username in page.inner_text(".user")
        got, why = [], []
        for kind, name, action, path in table(scene):
            got.append(page.request.get(f"{base}{path}", max_redirects=0).status)
            query = {"cluster": "local", kind: name, "action": action}
            answer = page.request.get(f"{base}/api/access/why/", params=query).json()
            why.append(answer["status"])
        assert got == expected, username
        assert why == got, username
        answer = page.request.get(f"{base}/api/access/why/", params={"topic": scene["payments"]})
        body = answer.json()
        assert body["login"]["method"] == "oidc"
        assert body["login"]["idp_groups"] == USERS[username]
        assert body["masks"] == [
            {"index": 0, "topics": [r"payments\..*"], "json_fields": ["pan"], "regex": []}
        ]
        # The page shows the same, escaped, in the browser.
        page.goto(f"{base}/access/why/?topic={scene['hr']}&action=produce")
        assert page.inner_text("#why-verdict").startswith(
            {"vera": "refused", "pat": "hidden", "otto": "allowed"}[username]
        )
    for username, groups in (
        ("vera", ["viewer"]),
        ("pat", ["payments-team"]),
        ("otto", ["operator"]),
    ):
        assert off_loop(partial(groups_of, username)) == groups
        user = off_loop(partial(get_user_model().objects.get, username=username))
        assert not user.has_usable_password()
        identity = off_loop(partial(ExternalIdentity.objects.get, user=user))
        assert identity.subject.startswith(scene["realm"].issuer)


def test_a_group_removed_at_the_provider_is_gone_at_the_next_login_and_logout_ends_both(
    scene, browser_page
) -> None:
    page, base, realm = browser_page, scene["base"], scene["realm"]
    name = f"mia{unique('u')[-6:]}"
    realm.user_create(name, f"{name}-secret", ["team-payments-eu", "kafka-viewers"])
    sso_login(page, base, name)
    assert off_loop(lambda: groups_of(name)) == ["payments-team", "viewer"]
    assert realm.sessions(name) == 1
    page.click(".user button")  # Log out: here, then at Keycloak (end_session)
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(f"{base}/accounts/login/"), page.url
    assert realm.sessions(name) == 0
    realm.group_leave(name, "team-payments-eu")
    sso_login(page, base, name)
    assert off_loop(lambda: groups_of(name)) == ["viewer"]
    body = page.request.get(f"{base}/api/access/why/", params={"group": scene["etl"]}).json()
    assert body["login"]["idp_groups"] == ["kafka-viewers"]
    assert body["django_groups"] == ["viewer"]


def test_a_user_whose_groups_map_to_nothing_is_told_so_and_gets_no_account(
    scene, browser_page
) -> None:
    page, base = browser_page, scene["base"]
    sso_login(page, base, "hugo")
    assert "map to no kafkaview group" in page.inner_text("#login-refused")
    assert not off_loop(get_user_model().objects.filter(username="hugo").exists)


def test_an_unreachable_issuer_warns_at_start_up_and_the_login_answers_503(tmp_path) -> None:
    """Start-up does not fail for a provider that is down (it warns and retries); the login
    button answers 503 with the issuer named; a bad file fails start-up with one line."""
    issuer = f"http://127.0.0.1:{free_port()}/realms/none"
    auth = tmp_path / "auth.toml"
    auth.write_text(AUTH.format(issuer=issuer, client_id="kafkaview"))
    backends = [*settings.AUTHENTICATION_BACKENDS, "dashboard.auth.oidc.OidcBackend"]
    with override_settings(
        KAFKAVIEW_AUTH=auth_load(str(auth)),
        KAFKAVIEW_OIDC_CLIENT_SECRET="s",
        AUTHENTICATION_BACKENDS=backends,
    ):
        client = Client()
        answer = client.get("/accounts/oidc/start/")
        assert answer.status_code == 503
        assert f"The identity provider at {issuer} did not answer" in answer.content.decode()
        # Local accounts still log in, and their pages answer, while the provider is down.
        get_user_model().objects.create_user(username="local-while-down", password="pw-local-1x")
        login = {"username": "local-while-down", "password": "pw-local-1x"}
        assert client.post("/accounts/login/", login).status_code == 302
        assert client.get("/access/why/").status_code == 200
    sso_only = auth_parse(
        "password_login = false\n" + AUTH.format(issuer=issuer, client_id="k"), source="a"
    )
    with override_settings(KAFKAVIEW_AUTH=sso_only, KAFKAVIEW_OIDC_CLIENT_SECRET="s"):
        page = Client().get("/accounts/login/")
        assert b'id="sso-login"' in page.content and b'name="password"' not in page.content
        refused = Client().post("/accounts/login/", login)
        assert refused.status_code == 403
        assert b"Password login is turned off" in refused.content
    bad = tmp_path / "bad.toml"
    bad.write_text(
        AUTH.format(issuer=issuer, client_id="k").replace('idp = "kafka-viewers"', "idp = 7")
    )
    env = {"KAFKAVIEW_AUTH_FILE": str(bad), "KAFKAVIEW_OIDC_CLIENT_SECRET": "s"}
    failed = manage_check(**env)
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines() == [
        f"kafkaview: bad sign-in configuration: {bad}: group_mappings[0].idp: "
        "expected a non-empty string, not 7"
    ]
    missing_secret = manage_check(KAFKAVIEW_AUTH_FILE=str(auth), KAFKAVIEW_OIDC_CLIENT_SECRET="")
    assert missing_secret.returncode != 0
    assert "KAFKAVIEW_OIDC_CLIENT_SECRET" in missing_secret.stderr
    down = manage_check(KAFKAVIEW_AUTH_FILE=str(auth), KAFKAVIEW_OIDC_CLIENT_SECRET="s")
    assert down.returncode == 0, down.stderr
    assert f"The identity provider at {issuer} did not answer" in down.stderr
