"""OpenID Connect sign-in: mozilla-django-oidc's views and backend, fed by discovery.

mozilla-django-oidc does the authorization code flow with PKCE, state and nonce kept in
the session, and checks the ID token's signature against the provider's JWKS; it takes
its endpoints from settings. Here they come from the provider's discovery document
(fetched at start-up in the background, retried while the provider is unreachable), and
the user is found by the token's subject, never by user name alone; the groups claim
goes through the mapping at every login.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import absolutify, import_from_settings

from dashboard.auth.config import OidcConfig, claim_groups
from dashboard.auth.sync import (
    LoginRefused,
    auth_config,
    groups_mapped,
    identity_user,
    login_record,
)

LOG = logging.getLogger("kafkaview.auth")
# A discovery document is used this long before it is asked for again.
DISCOVERY_MAX_AGE = 300.0
# While the provider is unreachable, start-up asks again after these many seconds (then
# every last one); a login in between asks at once.
RETRY_SECONDS = (2.0, 5.0, 10.0, 30.0, 60.0)
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


class ProviderUnavailable(LoginRefused):
    """The identity provider cannot be reached or describes itself wrongly (503)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503)


class Discovery:
    """The provider's discovery document, fetched when needed and kept a while."""

    def __init__(self, config: OidcConfig, *, clock: Any = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.Lock()
        self.document: dict[str, Any] | None = None
        self.fetched_at = 0.0
        self.problem = ""

    def fetch(self) -> dict[str, Any]:
        """Ask the provider; ProviderUnavailable names the issuer and the problem."""
        url = self.config.discovery_url
        try:
            answer = requests.get(
                url, timeout=self.config.timeout_seconds, verify=self.config.verify_tls
            )
            answer.raise_for_status()
            document = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(
                f"The identity provider at {self.config.issuer} did not answer "
                f"({self._failure(exc)}). Try again in a moment."
            ) from None
        return document_check(document, self.config)

    def _failure(self, exc: Exception) -> str:
        # requests' own messages run to several lines of pool internals: say what happened.
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            return f"HTTP {exc.response.status_code} from its discovery document"
        if isinstance(exc, requests.Timeout):
            return f"nothing within {self.config.timeout_seconds:g} s"
        if isinstance(exc, requests.ConnectionError):
            return "connection refused or host unreachable"
        if isinstance(exc, ValueError):
            return "its discovery document is not JSON"
        return exc.__class__.__name__

    def get(self) -> dict[str, Any]:
        """The document: a fresh one, else asked for now, else the last one known."""
        with self.lock:
            if self.document is not None and self.clock() - self.fetched_at < DISCOVERY_MAX_AGE:
                return self.document
            try:
                self.document = self.fetch()
            except ProviderUnavailable as exc:
                self.problem = exc.message
                if self.document is not None:
                    return self.document  # the provider's endpoints rarely move
                raise
            self.fetched_at = self.clock()
            self.problem = ""
            return self.document

    def warm(self, *, sleep: Any = time.sleep) -> None:
        """At start-up: fetch until it works, saying on the log while it does not."""
        for attempt in range(10_000):
            try:
                self.get()
            except ProviderUnavailable as exc:
                wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                LOG.warning("OIDC: %s Retrying in %g s.", exc.message, wait)
                sleep(wait)
                continue
            if attempt:
                LOG.warning("OIDC: the identity provider at %s answers now", self.config.issuer)
            return


def document_check(document: Any, config: OidcConfig) -> dict[str, Any]:
    """The document, if it is one for this issuer with the endpoints a login needs."""
    where = f"{config.discovery_url}"
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{where} is not a discovery document (not a JSON object).")
    if document.get("issuer", "").rstrip("/") != config.issuer:
        raise ProviderUnavailable(
            f"{where} says its issuer is {str(document.get('issuer'))[:200]!r}, not "
            f"{config.issuer!r} (oidc.issuer in the sign-in file)."
        )
    missing = [key for key in ENDPOINTS.values() if not isinstance(document.get(key), str)]
    if missing:
        raise ProviderUnavailable(f"{where} gives no {', '.join(missing)}.")
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise ProviderUnavailable(f"{where}: the provider does not offer PKCE with S256.")
    return document


# The process's discovery, one per provider configuration (tests change the settings).
_discoveries: dict[OidcConfig, Discovery] = {}
_discovery_lock = threading.Lock()


def discovery() -> Discovery:
    """The process's discovery of the configured provider."""
    config = auth_config().oidc
    if config is None:
        raise ProviderUnavailable("OpenID Connect is not configured.")
    with _discovery_lock:
        if config not in _discoveries:
            _discoveries[config] = Discovery(config)
        return _discoveries[config]


def discovery_start() -> None:
    """Fetch the provider's document in the background (start-up; warns and retries)."""
    threading.Thread(target=discovery().warm, name="oidc-discovery", daemon=True).start()


def oidc_setting(attr: str, *args: Any) -> Any:
    """mozilla-django-oidc's settings: the endpoints from discovery, the rest from our file."""
    config = auth_config().oidc
    if config is None:
        raise ProviderUnavailable("OpenID Connect is not configured.")
    if attr in ENDPOINTS:
        return discovery().get()[ENDPOINTS[attr]]
    ours = {
        "OIDC_RP_CLIENT_ID": config.client_id,
        "OIDC_RP_CLIENT_SECRET": settings.KAFKAVIEW_OIDC_CLIENT_SECRET,
        "OIDC_RP_SCOPES": " ".join(config.scopes),
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_STORE_ID_TOKEN": True,
        "OIDC_VERIFY_SSL": config.verify_tls,
        "OIDC_TIMEOUT": config.timeout_seconds,
        "OIDC_CREATE_USER": True,
        "OIDC_AUTHENTICATION_CALLBACK_URL": "oidc_authentication_callback",
        "LOGIN_REDIRECT_URL": settings.LOGIN_REDIRECT_URL,
        "LOGIN_REDIRECT_URL_FAILURE": settings.LOGIN_URL,
    }
    if attr in ours:
        return ours[attr]
    return import_from_settings(attr, *args)


class OidcBackend(OIDCAuthenticationBackend):
    """Users from the provider's ID token and userinfo, found by their subject."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the library's __init__: it reads the endpoints, which would ask the provider
        # whenever Django loads the backend (every request of a logged-in user, every
        # password login); a provider that is down must cost only its own logins.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = oidc_setting("OIDC_RP_CLIENT_ID")
        self.OIDC_RP_CLIENT_SECRET = oidc_setting("OIDC_RP_CLIENT_SECRET")
        self.OIDC_RP_SIGN_ALGO = oidc_setting("OIDC_RP_SIGN_ALGO")
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # the library's name
        """From discovery, when a login needs it."""
        return str(oidc_setting("OIDC_OP_TOKEN_ENDPOINT"))

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:  # the library's name
        """From discovery, when a login needs it."""
        return str(oidc_setting("OIDC_OP_USER_ENDPOINT"))

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:  # the library's name
        """From discovery, when a login needs it."""
        return str(oidc_setting("OIDC_OP_JWKS_ENDPOINT"))

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        """A user for the callback's code, or None with the reason on the request."""
        if request is None or "code" not in request.GET:
            return None  # a password login: not ours
        try:
            return super().authenticate(request, **kwargs)
        except LoginRefused as exc:
            request.kafkaview_refused = exc  # type: ignore[attr-defined]
        except requests.RequestException as exc:
            request.kafkaview_refused = ProviderUnavailable(  # type: ignore[attr-defined]
                f"The identity provider did not answer ({exc.__class__.__name__}). Try again."
            )
        return None

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """As mozilla-django-oidc does, with the ID token's claims kept beside userinfo's."""
        self.id_claims = payload
        return super().get_or_create_user(access_token, id_token, payload)

    def _claims(self, userinfo: dict[str, Any]) -> dict[str, Any]:
        return {**getattr(self, "id_claims", {}), **userinfo}

    def _login(self, user: Any, userinfo: dict[str, Any]) -> Any:
        config = auth_config().oidc
        assert config is not None
        claims = self._claims(userinfo)
        try:
            received = claim_groups(claims, config.groups_claim)
        except ValueError as exc:
            LOG.warning("OIDC login refused: %s (oidc.groups_claim)", exc)
            raise LoginRefused(
                f"Sign-in refused: {exc}. An administrator must fix the provider's "
                f"group claim or oidc.groups_claim in {auth_config().source}."
            ) from None
        mapped = groups_mapped(received)
        if user is None:
            user = self.UserModel.objects.create_user(
                username=self._username(claims), email=str(claims.get("email", ""))[:254]
            )
        login_record(user, method="oidc", subject=self._subject(claims), mapped=mapped)
        return user

    def _subject(self, claims: dict[str, Any]) -> str:
        return f"{auth_config().oidc.issuer} {claims['sub']}"  # type: ignore[union-attr]

    def _username(self, claims: dict[str, Any]) -> str:
        config = auth_config().oidc
        assert config is not None
        name = claims.get(config.username_claim)
        if not isinstance(name, str) or not name.strip() or len(name) > 150:
            raise LoginRefused(
                f"The provider sent no usable {config.username_claim!r} claim "
                "(oidc.username_claim) to name the account."
            )
        return name.strip()

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        """A subject and a user name: what the account is found and named by."""
        merged = self._claims(claims)
        if not isinstance(merged.get("sub"), str) or not merged["sub"]:
            raise LoginRefused("The provider sent no subject ('sub') for the user.")
        self._username(merged)
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> list[Any]:
        """The user this subject signed in as before (a list, as the library expects)."""
        merged = self._claims(claims)
        user = identity_user("oidc", self._subject(merged), self._username(merged))
        return [user] if user is not None else []

    def create_user(self, claims: dict[str, Any]) -> Any:
        """A new account, put in the groups its IdP groups map to."""
        return self._login(None, claims)

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        """The account again, its groups set to what they map to now."""
        return self._login(user, claims)


def end_session_url(request: HttpRequest) -> str | None:
    """Where to send the browser to end the provider's session too; None if it has no way."""
    config = auth_config().oidc
    id_token = request.session.get("oidc_id_token")
    if config is None or not config.end_session or not id_token:
        return None
    try:
        endpoint = discovery().get().get("end_session_endpoint")
    except ProviderUnavailable:
        return None
    if not isinstance(endpoint, str):
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": config.client_id,
            "post_logout_redirect_uri": absolutify(request, reverse("login")),
        }
    )
    return f"{endpoint}?{query}"
