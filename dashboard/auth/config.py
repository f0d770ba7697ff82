"""Sign-in as config: OIDC, LDAP and the IdP-group mapping from a TOML file (pure: no Django).

    password_login = false            # local accounts off (default: on)

    [oidc]
    issuer = "https://sso.example.com/realms/acme"   # discovery: {issuer}/.well-known/...
    client_id = "kafkaview"           # its secret only from KAFKAVIEW_OIDC_CLIENT_SECRET
    scopes = ["openid", "profile", "email"]
    groups_claim = "groups"           # a dotted path into the claims, e.g. realm_access.roles
    username_claim = "preferred_username"

    [ldap]
    uri = "ldap://ldap.example.com"
    bind_dn = "cn=kafkaview,dc=example,dc=com"   # its password: KAFKAVIEW_LDAP_BIND_PASSWORD
    user_search_base = "ou=people,dc=example,dc=com"
    group_search_base = "ou=groups,dc=example,dc=com"

    [[group_mappings]]
    idp = "kafka-viewers"             # an IdP group, exactly; or
    pattern = "/?team-payments(/.*)?" # a regular expression, full match (linear time)
    django = ["payments-team"]        # the Django groups it gives

The Django groups named by any mapping are the IdP's: at every login a user is put in
those their IdP groups map to and taken out of the others. Groups no mapping names are
left to the admin. A login whose groups map to none is refused unless allow_unmapped.
Errors name the file, the key and the problem, as the access file's do.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.kafka.linear import LinearPattern, PatternError, linear_compile

TOP_KEYS = frozenset({"password_login", "allow_unmapped", "oidc", "ldap", "group_mappings"})
OIDC_KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "scopes",
        "groups_claim",
        "username_claim",
        "label",
        "verify_tls",
        "timeout_seconds",
        "end_session",
    }
)
LDAP_KEYS = frozenset(
    {
        "uri",
        "start_tls",
        "bind_dn",
        "user_search_base",
        "user_filter",
        "user_dn_template",
        "group_search_base",
        "group_filter",
        "group_type",
        "timeout_seconds",
        "label",
    }
)
MAPPING_KEYS = frozenset({"idp", "pattern", "django"})
GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "posixGroup")
CLAIM_RE = re.compile(r"^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+)*$")
# A Django group name: auth.Group.name is 150 characters.
DJANGO_GROUP_MAX = 150


class AuthConfigError(Exception):
    """The sign-in file is malformed; names the file, the key and the problem."""

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class MapLine:
    """One line of the mapping: an IdP group (exactly, or by pattern) to Django groups."""

    index: int
    idp: str | None
    pattern: LinearPattern | None
    pattern_text: str | None
    django: tuple[str, ...]

    def matches(self, name: str) -> bool:
        """Whether this IdP group name is the one (or one of those) the line speaks of."""
        if self.idp is not None:
            return name == self.idp
        return self.pattern is not None and self.pattern.fullmatch(name)

    @property
    def source(self) -> str:
        """How the line reads in the file, for the why page."""
        return f"idp = {self.idp!r}" if self.idp is not None else f"pattern = {self.pattern_text!r}"


@dataclass(frozen=True)
class MappedGroups:
    """What a login's IdP groups gave: the Django groups, and which line gave each."""

    received: tuple[str, ...]
    django: tuple[str, ...]
    because: tuple[tuple[str, int, str], ...]  # (IdP group, mapping index, Django group)
    unmatched: tuple[str, ...]


@dataclass(frozen=True)
class GroupMap:
    """Every mapping line, in the file's order."""

    lines: tuple[MapLine, ...] = ()

    @property
    def managed(self) -> frozenset[str]:
        """The Django groups the IdP decides (every group a line names)."""
        return frozenset(name for line in self.lines for name in line.django)

    def apply(self, received: Iterable[str]) -> MappedGroups:
        """The Django groups these IdP groups map to (every matching line counts)."""
        names = tuple(dict.fromkeys(received))
        django: dict[str, None] = {}
        because = []
        unmatched = []
        for name in names:
            hit = False
            for line in self.lines:
                if line.matches(name):
                    hit = True
                    for target in line.django:
                        django.setdefault(target)
                        because.append((name, line.index, target))
            if not hit:
                unmatched.append(name)
        return MappedGroups(
            received=names,
            django=tuple(django),
            because=tuple(because),
            unmatched=tuple(unmatched),
        )


@dataclass(frozen=True)
class OidcConfig:
    """The OpenID Connect provider kafkaview signs users in with."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    label: str = "Sign in with single sign-on"
    verify_tls: bool = True
    timeout_seconds: float = 5.0
    end_session: bool = True  # log out of the provider too, when it offers end_session

    @property
    def discovery_url(self) -> str:
        """Where the provider describes its endpoints (OpenID Connect Discovery 1.0)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class LdapConfig:
    """The directory kafkaview checks passwords and groups against."""

    uri: str
    user_search_base: str = ""
    user_filter: str = "(uid=%(user)s)"
    user_dn_template: str = ""
    bind_dn: str = ""
    start_tls: bool = False
    group_search_base: str = ""
    group_filter: str = ""
    group_type: str = "groupOfNames"
    timeout_seconds: float = 5.0
    label: str = "directory"


@dataclass(frozen=True)
class AuthConfig:
    """How users sign in: local passwords, OIDC, LDAP, and how their groups map."""

    source: str = ""
    password_login: bool = True
    allow_unmapped: bool = False
    oidc: OidcConfig | None = None
    ldap: LdapConfig | None = None
    mapping: GroupMap = field(default_factory=GroupMap)


LOCAL_ONLY = AuthConfig()


@dataclass
class _Reader:
    source: str

    def fail(self, key: str, problem: str) -> AuthConfigError:
        return AuthConfigError(source=self.source, key=key, problem=problem)

    def unknown(self, table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            raise self.fail(
                f"{where}{extra[0]}", f"unknown key; known keys: {', '.join(sorted(allowed))}"
            )

    def text(self, table: Mapping[str, Any], key: str, where: str, default: str | None) -> str:
        if key not in table:
            if default is None:
                raise self.fail(f"{where}{key}", "missing: give a string")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"expected a non-empty string, not {value!r:.80}")
        return value.strip()

    def flag(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key}", f"expected true or false, not {value!r:.80}")
        return value

    def seconds(self, table: Mapping[str, Any], key: str, where: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 60:
            raise self.fail(
                f"{where}{key}", f"expected seconds between 0 and 60, not {value!r:.80}"
            )
        return float(value)

    def url(self, table: Mapping[str, Any], key: str, where: str, schemes: tuple[str, ...]) -> str:
        value = self.text(table, key, where, None)
        if not any(value.startswith(f"{s}://") and len(value) > len(s) + 3 for s in schemes):
            raise self.fail(
                f"{where}{key}", f"{value!r:.120} is not a URL ({' or '.join(schemes)})"
            )
        return value

    def claim(self, table: Mapping[str, Any], key: str, where: str, default: str) -> str:
        value = self.text(table, key, where, default)
        if not CLAIM_RE.match(value):
            raise self.fail(f"{where}{key}", f"{value!r:.80} is not a claim name or dotted path")
        return value


def _oidc(reader: _Reader, table: Any) -> OidcConfig:
    where = "oidc."
    if not isinstance(table, dict):
        raise reader.fail("oidc", "expected an [oidc] table")
    reader.unknown(table, OIDC_KEYS, where)
    scopes = table.get("scopes", ["openid", "profile", "email"])
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and s and " " not in s for s in scopes
    ):
        raise reader.fail(f"{where}scopes", f"expected a list of scope names, not {scopes!r:.80}")
    if "openid" not in scopes:
        raise reader.fail(f"{where}scopes", "must include 'openid' (it is what makes it OIDC)")
    return OidcConfig(
        issuer=reader.url(table, "issuer", where, ("https", "http")).rstrip("/"),
        client_id=reader.text(table, "client_id", where, None),
        scopes=tuple(scopes),
        groups_claim=reader.claim(table, "groups_claim", where, "groups"),
        username_claim=reader.claim(table, "username_claim", where, "preferred_username"),
        label=reader.text(table, "label", where, "Sign in with single sign-on"),
        verify_tls=reader.flag(table, "verify_tls", where, True),
        timeout_seconds=reader.seconds(table, "timeout_seconds", where, 5.0),
        end_session=reader.flag(table, "end_session", where, True),
    )


def _ldap(reader: _Reader, table: Any) -> LdapConfig:
    where = "ldap."
    if not isinstance(table, dict):
        raise reader.fail("ldap", "expected an [ldap] table")
    reader.unknown(table, LDAP_KEYS, where)
    template = reader.text(table, "user_dn_template", where, "")
    base = reader.text(table, "user_search_base", where, "")
    if bool(template) == bool(base):
        raise reader.fail(
            f"{where}user_search_base",
            "give user_search_base (search for the user) or user_dn_template, one of them",
        )
    if template and "%(user)s" not in template:
        raise reader.fail(f"{where}user_dn_template", "must contain %(user)s")
    user_filter = reader.text(table, "user_filter", where, "(uid=%(user)s)")
    if "%(user)s" not in user_filter:
        raise reader.fail(f"{where}user_filter", "must contain %(user)s")
    group_type = reader.text(table, "group_type", where, "groupOfNames")
    if group_type not in GROUP_TYPES:
        raise reader.fail(
            f"{where}group_type", f"{group_type!r} is not one of {', '.join(GROUP_TYPES)}"
        )
    group_base = reader.text(table, "group_search_base", where, "")
    for key in ("user_filter", "group_filter"):
        value = table.get(key)
        if isinstance(value, str) and value and not (value.startswith("(") and value.endswith(")")):
            raise reader.fail(f"{where}{key}", f"{value!r:.80} is not an LDAP filter: (attr=value)")
    return LdapConfig(
        uri=reader.url(table, "uri", where, ("ldap", "ldaps")),
        user_search_base=base,
        user_filter=user_filter,
        user_dn_template=template,
        bind_dn=reader.text(table, "bind_dn", where, ""),
        start_tls=reader.flag(table, "start_tls", where, False),
        group_search_base=group_base,
        group_filter=reader.text(table, "group_filter", where, f"(objectClass={group_type})"),
        group_type=group_type,
        timeout_seconds=reader.seconds(table, "timeout_seconds", where, 5.0),
        label=reader.text(table, "label", where, "directory"),
    )


def _mapping(reader: _Reader, data: Any) -> GroupMap:
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise reader.fail("group_mappings", "expected [[group_mappings]] tables")
    lines = []
    for i, table in enumerate(data):
        where = f"group_mappings[{i}]."
        reader.unknown(table, MAPPING_KEYS, where)
        if ("idp" in table) == ("pattern" in table):
            raise reader.fail(
                f"group_mappings[{i}]", "give idp (one IdP group) or pattern, exactly one of them"
            )
        idp = reader.text(table, "idp", where, None) if "idp" in table else None
        pattern = text = None
        if "pattern" in table:
            text = reader.text(table, "pattern", where, None)
            try:
                pattern = linear_compile(text)
            except PatternError as exc:
                raise reader.fail(
                    f"{where}pattern", f"not a valid regular expression: {exc}"
                ) from None
        django = table.get("django")
        if (
            not isinstance(django, list)
            or not django
            or not all(isinstance(d, str) and d.strip() for d in django)
        ):
            raise reader.fail(
                f"{where}django",
                f"expected a non-empty list of Django group names, not {django!r:.80}",
            )
        for name in django:
            if len(name) > DJANGO_GROUP_MAX:
                raise reader.fail(f"{where}django", f"{name[:40]!r}...: longer than 150 characters")
        lines.append(
            MapLine(index=i, idp=idp, pattern=pattern, pattern_text=text, django=tuple(django))
        )
    return GroupMap(lines=tuple(lines))


def auth_parse(text: str, *, source: str) -> AuthConfig:
    """Sign-in settings from the file's text; AuthConfigError names what is wrong."""
    reader = _Reader(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail("(file)", f"not valid TOML: {exc}") from None
    reader.unknown(data, TOP_KEYS, "")
    oidc = _oidc(reader, data["oidc"]) if "oidc" in data else None
    ldap = _ldap(reader, data["ldap"]) if "ldap" in data else None
    mapping = _mapping(reader, data.get("group_mappings", []))
    password_login = reader.flag(data, "password_login", "", True)
    if not password_login and oidc is None and ldap is None:
        raise reader.fail(
            "password_login", "false, but neither [oidc] nor [ldap] is set: nobody could log in"
        )
    if (oidc or ldap) and not mapping.lines and not data.get("allow_unmapped", False):
        raise reader.fail(
            "group_mappings",
            "missing: map IdP groups to Django groups (or set allow_unmapped = true)",
        )
    return AuthConfig(
        source=source,
        password_login=password_login,
        allow_unmapped=reader.flag(data, "allow_unmapped", "", False),
        oidc=oidc,
        ldap=ldap,
        mapping=mapping,
    )


def auth_load(path: str) -> AuthConfig:
    """The sign-in file at path; AuthConfigError when it cannot be read or is malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(source=path, key="(file)", problem=f"cannot read it: {exc}") from None
    return auth_parse(text, source=path)


def claim_groups(claims: Mapping[str, Any], path: str) -> list[str]:
    """The IdP groups at a dotted path of the claims; ValueError says why they are unusable."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ValueError(f"the provider sent no {path!r} claim")
        value = value[part]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(
            f"the provider's {path!r} claim is {type(value).__name__}, not a list of group names"
        )
    return value
