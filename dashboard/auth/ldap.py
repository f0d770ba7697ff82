"""LDAP sign-in: django-auth-ldap binds as the user and searches their groups; the
mapping (not django-auth-ldap's group mirroring) decides their Django groups."""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.conf import settings
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import (
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    LDAPSettings,
    PosixGroupType,
)

from dashboard.auth.config import LdapConfig
from dashboard.auth.sync import (
    LoginRefused,
    auth_config,
    groups_mapped,
    identity_user,
    login_record,
)

LOG = logging.getLogger("kafkaview.auth")
GROUP_TYPES = {
    "groupOfNames": GroupOfNamesType,
    "groupOfUniqueNames": GroupOfUniqueNamesType,
    "posixGroup": PosixGroupType,
}


def ldap_settings(config: LdapConfig) -> dict[str, Any]:
    """django-auth-ldap's settings for the [ldap] table (without its AUTH_LDAP_ prefix)."""
    out: dict[str, Any] = {
        "SERVER_URI": config.uri,
        "START_TLS": config.start_tls,
        "BIND_DN": config.bind_dn,
        "BIND_PASSWORD": settings.KAFKAVIEW_LDAP_BIND_PASSWORD,
        "USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "ALWAYS_UPDATE_USER": True,
        "CACHE_TIMEOUT": 0,  # groups are read at every login, so a removed one is gone
        "CONNECTION_OPTIONS": {
            ldap.OPT_NETWORK_TIMEOUT: config.timeout_seconds,
            ldap.OPT_TIMEOUT: config.timeout_seconds,
            ldap.OPT_REFERRALS: 0,
        },
    }
    if config.user_dn_template:
        out["USER_DN_TEMPLATE"] = config.user_dn_template
    else:
        out["USER_SEARCH"] = LDAPSearch(
            config.user_search_base, ldap.SCOPE_SUBTREE, config.user_filter
        )
    if config.group_search_base:
        out["GROUP_SEARCH"] = LDAPSearch(
            config.group_search_base, ldap.SCOPE_SUBTREE, config.group_filter
        )
        out["GROUP_TYPE"] = GROUP_TYPES[config.group_type]()
    return out


class LdapBackend(LDAPBackend):
    """A password checked by the directory; the user found by their DN."""

    @property
    def settings(self) -> LDAPSettings:
        """Built from the sign-in file's [ldap] table, not from AUTH_LDAP_* settings."""
        config = auth_config().ldap
        if self._settings is None and config is not None:  # type: ignore[has-type]
            self._settings = LDAPSettings("KAFKAVIEW_UNUSED_LDAP_", ldap_settings(config))
        return self._settings

    @settings.setter
    def settings(self, value: LDAPSettings) -> None:
        self._settings = value

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kw: Any
    ) -> Any:
        """The user whose directory password this is, or None (the reason on the request)."""
        if auth_config().ldap is None:
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kw)
        except LoginRefused as exc:
            if request is not None:
                request.kafkaview_refused = exc
            return None

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[Any, bool]:
        """The account of this DN; a new one only when its groups map to something."""
        groups_mapped(sorted(ldap_user.group_names))  # refuses before any account is made
        user = identity_user("ldap", ldap_user.dn, username)
        if user is not None:
            return user, False
        return self.get_user_model()(username=username), True

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        """django-auth-ldap's bind and search, then the mapping sets the groups."""
        user = ldap_user.authenticate(password)
        if user is not None:
            mapped = groups_mapped(sorted(ldap_user.group_names))
            login_record(user, method="ldap", subject=ldap_user.dn, mapped=mapped)
        return user


def _on_ldap_error(*, request: Any = None, exception: Exception | None = None, **_: Any) -> None:
    # django-auth-ldap logs a directory that is down and answers "no such user": say it.
    if request is None or not isinstance(exception, ldap.SERVER_DOWN | ldap.TIMEOUT):
        return
    config = auth_config().ldap
    uri = config.uri if config else "?"
    request.kafkaview_refused = LoginRefused(
        f"The directory at {uri} did not answer ({exception.__class__.__name__}). Try again.",
        status=503,
    )


ldap_error.connect(_on_ldap_error, dispatch_uid="kafkaview-ldap-error")
