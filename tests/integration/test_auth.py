"""Login is required on every page, JSON endpoint and websocket; roles exist."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group

from dashboard.tail.consumer import CLOSE_UNAUTHENTICATED
from kafkaview.asgi import application
from tests.conftest import roles_ensure

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/clusters/local/", "/clusters/nope/"])
def test_pages_redirect_to_login(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_json_answers_401(client) -> None:
    response = client.get("/api/clusters/local/")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthenticated"


def test_login_page_and_healthz_are_open(client) -> None:
    assert client.get("/accounts/login/").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


def test_login_with_the_form_then_see_the_overview(client, user) -> None:
    from tests.helpers import PASSWORD

    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/clusters/local/"


def ws_connect(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None, dict]:
    async def run() -> tuple[bool, int | None, dict]:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        first: dict = {}
        if connected:
            first = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, code, first

    return async_to_sync(run)()


TAIL = "/ws/clusters/local/topics/anything/tail/"


def test_websocket_refuses_anonymous() -> None:
    connected, code, _ = ws_connect(TAIL, [(b"origin", b"http://127.0.0.1")])
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


def test_websocket_accepts_a_logged_in_user(client, user) -> None:
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _, first = ws_connect(TAIL, [(b"origin", b"http://127.0.0.1"), (b"cookie", cookie)])
    assert connected
    assert first == {"type": "hello", "cluster": "local", "topic": "anything"}


def test_websocket_refuses_a_foreign_origin(client, user) -> None:
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    connected, _, _ = ws_connect(TAIL, [(b"origin", b"http://evil.example"), (b"cookie", cookie)])
    assert not connected


def test_roles_viewer_and_operator() -> None:
    roles_ensure()  # what the migration made (a transactional test may have flushed it)
    operator = Group.objects.get(name="operator")
    viewer = Group.objects.get(name="viewer")
    assert set(operator.permissions.values_list("codename", flat=True)) == {
        "produce_message",
        "reset_offsets",
        "manage_alerts",  # silence, acknowledge, test receivers (0014_alerts)
    }
    assert not viewer.permissions.exists()


def test_operator_role_grants_the_write_permissions(django_user_model) -> None:
    roles_ensure()
    user = django_user_model.objects.create_user(username="op", password="x")
    user.groups.add(Group.objects.get(name="operator"))
    assert user.has_perm("dashboard.produce_message")
    assert user.has_perm("dashboard.reset_offsets")
    viewer = django_user_model.objects.create_user(username="view", password="x")
    viewer.groups.add(Group.objects.get(name="viewer"))
    assert not viewer.has_perm("dashboard.produce_message")


def test_a_session_read_is_reused_briefly_and_a_logout_here_is_seen_at_once(client, user) -> None:
    from django.contrib.sessions.models import Session
    from django.test import override_settings

    from dashboard.web.sessions import forget_all

    forget_all()
    with override_settings(KAFKAVIEW_SESSION_CACHE=60.0):
        client.force_login(user)
        assert client.get("/healthz").status_code == 200
        assert client.get("/audit/").status_code == 200  # the session read, now kept
        # Another web process logs the session out: its row goes. This process may use
        # what it read for the cache's seconds (here 60)...
        Session.objects.all().delete()
        assert client.get("/audit/").status_code == 200
        forget_all()  # ...and once they are over, the next request is logged out.
        assert client.get("/audit/").status_code == 302
        client.force_login(user)
        assert client.get("/audit/").status_code == 200
        client.logout()  # a logout through this process is seen at once
        assert client.get("/audit/").status_code == 302


def test_session_cache_zero_reads_the_database_every_time(client, user) -> None:
    from django.contrib.sessions.models import Session
    from django.test import override_settings

    with override_settings(KAFKAVIEW_SESSION_CACHE=0):
        client.force_login(user)
        assert client.get("/audit/").status_code == 200
        Session.objects.all().delete()
        assert client.get("/audit/").status_code == 302


def test_a_kept_session_read_expires_after_its_seconds(client, user) -> None:
    from django.contrib.sessions.models import Session
    from django.test import override_settings

    from dashboard.web.sessions import forget_all, session_clock
    from tests.helpers import SteppedClock

    clock = SteppedClock()
    session_clock(clock.seconds)
    forget_all()
    try:
        with override_settings(KAFKAVIEW_SESSION_CACHE=0.3):
            client.force_login(user)
            assert client.get("/audit/").status_code == 200
            Session.objects.all().delete()
            clock.advance(0.29)
            assert client.get("/audit/").status_code == 200  # still the kept read
            clock.advance(0.02)
            assert client.get("/audit/").status_code == 302
    finally:
        session_clock()
