"""A real OpenID Connect provider for the tests and for trying sign-in locally: Keycloak.

Keycloak's distribution (org.keycloak:keycloak-quarkus-dist, a tar.gz) comes from Maven
Central into .cache/ once, like the Kafka jars, and runs in dev mode (in-memory database)
on the Java 21+ the registry uses. Realms, clients, groups and users are made through its
admin REST API, so each test says what the provider holds.

    python -m devtools.keycloak --demo     # realm "kafkaview" with three users; prints the
                                           # sign-in file and the secret to start with
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devtools.broker import free_port, port_open
from devtools.processes import ChildServer, child_start
from devtools.registry import ArchiveError, RegistryStartError, archive_ensure, java21_bin

KEYCLOAK_VERSION = "26.7.3"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:tar.gz"
ADMIN = "admin"


class KeycloakError(RuntimeError):
    """Keycloak could not be fetched, started or configured; the message says why."""


def keycloak_home(*, cache_dir: Path) -> Path:
    """The unpacked distribution (fetched once)."""
    target = cache_dir / "keycloak" / KEYCLOAK_VERSION
    try:
        return (archive_ensure(ARTIFACT, target) / f"keycloak-{KEYCLOAK_VERSION}").resolve()
    except ArchiveError as exc:
        raise KeycloakError(str(exc)) from None


@dataclass
class Realm:
    """A realm made by LocalKeycloak.realm_create, with its kafkaview client."""

    keycloak: LocalKeycloak
    name: str
    client_id: str
    client_secret: str

    @property
    def issuer(self) -> str:
        """The realm's issuer URL (its discovery document is under it)."""
        return f"{self.keycloak.url}/realms/{self.name}"

    def _admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.keycloak.admin(method, f"/admin/realms/{self.name}{path}", **kw)

    def group_id(self, name: str) -> str:
        """The id of a top-level group, made if missing."""
        found = self._admin("GET", "/groups", params={"search": name, "exact": "true"}).json()
        for group in found:
            if group["name"] == name:
                return str(group["id"])
        self._admin("POST", "/groups", json={"name": name})
        return self.group_id(name)

    def user_id(self, username: str) -> str:
        """The id of a user."""
        (user,) = self._admin(
            "GET", "/users", params={"username": username, "exact": "true"}
        ).json()
        return str(user["id"])

    def user_create(self, username: str, password: str, groups: list[str]) -> str:
        """A user with a password, in these groups; returns its id."""
        for group in groups:
            self.group_id(group)
        self._admin(
            "POST",
            "/users",
            json={
                "username": username,
                "enabled": True,
                "email": f"{username}@example.test",
                "emailVerified": True,
                "firstName": username.title(),
                "lastName": "Test",
                "credentials": [{"type": "password", "value": password, "temporary": False}],
                "groups": [f"/{g}" for g in groups],
            },
        )
        return self.user_id(username)

    def user_groups(self, username: str) -> list[str]:
        """The groups a user is in, as Keycloak has them."""
        found = self._admin("GET", f"/users/{self.user_id(username)}/groups").json()
        return sorted(g["name"] for g in found)

    def group_leave(self, username: str, group: str) -> None:
        """Take a user out of a group."""
        self._admin("DELETE", f"/users/{self.user_id(username)}/groups/{self.group_id(group)}")

    def group_join(self, username: str, group: str) -> None:
        """Put a user in a group."""
        self._admin("PUT", f"/users/{self.user_id(username)}/groups/{self.group_id(group)}")

    def sessions(self, username: str) -> int:
        """How many sessions the user has at the provider (0 once logged out there)."""
        return len(self._admin("GET", f"/users/{self.user_id(username)}/sessions").json())


class LocalKeycloak(ChildServer):
    """Keycloak in dev mode on 127.0.0.1, its database in memory, started and stopped here."""

    def __init__(self, *, cache_dir: Path, port: int | None = None, log: Path | None = None):
        self.cache_dir = cache_dir
        self.port = port or free_port()
        self.log_path = log or Path(tempfile.mkdtemp(prefix="keycloak-")) / "keycloak.log"
        self.password = secrets.token_urlsafe(12)
        self.process: subprocess.Popen[bytes] | None = None
        self._token: tuple[float, str] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 300) -> str:
        """Fetch if needed, start, wait until the master realm answers; returns the URL."""
        if self.running():
            return self.url
        home = keycloak_home(cache_dir=self.cache_dir)
        try:
            java = java21_bin()
        except RegistryStartError as exc:
            raise KeycloakError(
                str(exc).replace("the Schema Registry (Apicurio Registry)", "Keycloak")
            ) from None
        if port_open("127.0.0.1", self.port):
            raise KeycloakError(f"port {self.port} on 127.0.0.1 is already in use")
        env = {
            **os.environ,
            "JAVA_HOME": str(java.parent.parent),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.password,
            # Two cores: a small heap, quick JIT, and no metrics or health server on :9000.
            "JAVA_OPTS_KC_HEAP": "-Xms128m -Xmx512m",
            "JAVA_OPTS_APPEND": "-XX:TieredStopAtLevel=1",
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = child_start(
                [str(home / "bin" / "kc.sh"), "start-dev", f"--http-port={self.port}",
                 "--http-host=127.0.0.1", "--db=dev-mem", "--cache=local",
                 f"--http-management-port={free_port()}", "--log-level=WARN"],
                cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KeycloakError(
                    f"Keycloak exited with code {self.process.returncode}; log: {self.log_path}\n"
                    + self.log_tail()
                )
            if self.answers():
                return self.url
            time.sleep(0.5)
        self.stop()
        raise KeycloakError(f"Keycloak did not answer within {timeout:.0f} s; log: {self.log_path}")

    def answers(self) -> bool:
        """Whether the master realm's discovery document answers."""
        try:
            answer = requests.get(
                f"{self.url}/realms/master/.well-known/openid-configuration", timeout=2
            )
        except requests.RequestException:
            return False
        return answer.status_code == 200

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        """An admin REST call as the bootstrap admin; KeycloakError on a refusal."""
        if self._token is None or time.monotonic() > self._token[0]:
            answer = requests.post(
                f"{self.url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": ADMIN,
                    "password": self.password,
                },
                timeout=30,
            )
            answer.raise_for_status()
            body = answer.json()
            self._token = (time.monotonic() + body["expires_in"] - 10, body["access_token"])
        answer = requests.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"Bearer {self._token[1]}"},
            timeout=30,
            **kw,
        )
        if answer.status_code >= 400:
            raise KeycloakError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer

    def realm_create(self, name: str, *, redirect_base: str, client_id: str = "kafkaview") -> Realm:
        """A realm with a confidential client for kafkaview: code flow with PKCE (S256),
        redirects to redirect_base only, and a `groups` claim of the user's group names."""
        secret = secrets.token_urlsafe(24)
        self.admin("POST", "/admin/realms", json={"realm": name, "enabled": True})
        self.admin(
            "POST",
            f"/admin/realms/{name}/clients",
            json={
                "clientId": client_id,
                "enabled": True,
                "publicClient": False,
                "secret": secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "redirectUris": [f"{redirect_base}/accounts/oidc/callback/"],
                "webOrigins": [redirect_base],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": f"{redirect_base}/accounts/login/",
                },
                "protocolMappers": [
                    {
                        "name": "groups",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-group-membership-mapper",
                        "config": {
                            "claim.name": "groups",
                            "full.path": "false",
                            "id.token.claim": "true",
                            "access.token.claim": "true",
                            "userinfo.token.claim": "true",
                        },
                    }
                ],
            },
        )
        return Realm(keycloak=self, name=name, client_id=client_id, client_secret=secret)


DEMO_FILE = """\
# Sign-in through the local Keycloak of `python -m devtools.keycloak --demo`.
[oidc]
issuer = "{issuer}"
client_id = "{client_id}"
groups_claim = "groups"
label = "Sign in with Keycloak"

[[group_mappings]]
idp = "kafka-viewers"
django = ["viewer"]

[[group_mappings]]
idp = "kafka-operators"
django = ["operator"]
"""


def main() -> None:
    """`python -m devtools.keycloak [--fetch-only | --demo] [--port N]`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--port", type=int, default=8180)
    parser.add_argument("--dashboard", default="http://127.0.0.1:8000")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache"))
    args = parser.parse_args()
    try:
        if args.fetch_only:
            print(f"Keycloak {KEYCLOAK_VERSION} in {keycloak_home(cache_dir=args.cache_dir)}")
            return
        keycloak = LocalKeycloak(cache_dir=args.cache_dir, port=args.port)
        print(f"Keycloak at {keycloak.start()} (admin / {keycloak.password})", flush=True)
        if args.demo:
            realm = keycloak.realm_create("kafkaview", redirect_base=args.dashboard)
            realm.user_create("vera", "vera-password", ["kafka-viewers"])
            realm.user_create("otto", "otto-password", ["kafka-operators"])
            auth = Path(args.cache_dir) / "auth-keycloak.toml"
            auth.write_text(DEMO_FILE.format(issuer=realm.issuer, client_id=realm.client_id))
            print(
                f"users vera/vera-password (viewer), otto/otto-password (operator)\n"
                f"KAFKAVIEW_AUTH_FILE={auth} KAFKAVIEW_OIDC_CLIENT_SECRET={realm.client_secret}"
                " make run",
                flush=True,
            )
        try:
            while keycloak.running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            keycloak.stop()
    except KeycloakError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
