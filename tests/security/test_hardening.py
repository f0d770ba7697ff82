"""Deployment hardening (finding 9) and input that used to crash (10, 11)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from dashboard.kafka.config import ClusterConfig
from tests.helpers import BASE_DIR, PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_repeated_wrong_passwords_are_refused_for_a_while(client, user, settings) -> None:
    answers = [
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
        for _ in range(settings.KAFKAVIEW_LOGIN_FAILURES + 3)
    ]
    codes = [a.status_code for a in answers]
    assert codes[: settings.KAFKAVIEW_LOGIN_FAILURES - 1] == [200] * (
        settings.KAFKAVIEW_LOGIN_FAILURES - 1
    )
    assert codes[-1] == 429
    # Locked: even the right password is refused now (and the attempt is recorded).
    right = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert right.status_code == 429
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username=user.username).exists()


def test_pages_carry_a_strict_content_security_policy(viewer) -> None:
    for path in ("/accounts/login/", "/clusters/local/topics/", "/audit/"):
        policy = viewer.get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy


def test_only_login_logout_and_password_change_are_routed(client, user) -> None:
    for path in (
        "/accounts/password_reset/",
        "/accounts/reset/x/y/",
        "/accounts/password_reset/done/",
    ):
        assert client.get(path).status_code in {302, 404}, path
    client.force_login(user)
    for path in ("/accounts/password_reset/", "/accounts/reset/x/y/"):
        assert client.get(path).status_code == 404, path
    assert client.get("/accounts/password_change/").status_code == 200


def test_https_mode_passes_djangos_deployment_check() -> None:
    env = {
        **os.environ,
        "KAFKAVIEW_HTTPS": "1",
        "DJANGO_SECRET_KEY": "k" * 20 + "a-long-random-looking-key-0123456789-abcdefghijk",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "query", ["page=" + "9" * 5000, "limit=" + "9" * 5000, "page=²", "limit=-1", "page=1e3"]
)
def test_numbers_from_outside_are_checked_before_int(viewer, query) -> None:
    answer = viewer.get(f"/api/clusters/local/topics/?{query}")
    assert answer.status_code == 400
    assert "whole number" in answer.json()["error"]["message"]


def test_the_secret_key_file_is_created_private(tmp_path) -> None:
    from kafkaview.settings import _secret_key_file

    key = _secret_key_file(tmp_path / "sub" / "secret_key")
    path = tmp_path / "sub" / "secret_key"
    assert len(key) > 50 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _secret_key_file(path) == key  # read again, not replaced
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_settings_naming_a_credential_are_hidden_by_rule() -> None:
    cluster = ClusterConfig(
        name="x",
        bootstrap_servers="127.0.0.1:1",
        settings={
            "sasl.oauthbearer.client.secret.new": "s3cr3t",
            "ssl.certificate.pem": "-----BEGIN",
            "sasl.username": "me",
        },
    )
    shown = cluster.public_settings()
    assert "s3cr3t" not in str(shown) and "BEGIN" not in str(shown)
    assert shown["sasl.username"] == "me"
