"""Cluster configuration: the environment and an optional TOML file -> ClusterConfig.

Read once at start-up (kafkaview/settings.py). A malformed file stops start-up
with a ClusterConfigError naming the file, the key and the problem. Secret
values come from environment variables that the file names; they live only in
ClusterConfig.secrets, which is left out of repr() and of every public view.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.kafka.errors import ClusterConfigError

DEFAULT_CLUSTER = "local"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

# Names appear in URLs: keep them to characters that never need escaping.
CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# librdkafka settings whose values are credentials: they may only come from env
# variables (the `secrets` table), never be written in the file itself.
SECRET_SETTINGS = frozenset(
    {
        "sasl.password",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "ssl.key.password",
        "ssl.key.pem",
        "ssl.keystore.password",
        "ssl_key",
    }
)

# Any setting whose name speaks of a credential is hidden on every page and in JSON, by
# rule rather than by list: a credential-like setting added to librdkafka later (or a
# registry's) is hidden from the start. ssl.key.location (a path) is hidden too: harmless.
_SECRET_WORDS = re.compile(r"password|secret|token|key|pem|credential|jaas|cert")


def setting_is_secret(key: str) -> bool:
    """Whether a setting's value may be a credential (then it is never shown)."""
    return key in SECRET_SETTINGS or _SECRET_WORDS.search(key.lower()) is not None


# Settings kafkaview sets itself per client; a file that sets them would break
# guarantees (e.g. the tail never joining a group), so they are refused.
RESERVED_SETTINGS = frozenset({"bootstrap.servers", "group.id", "enable.auto.commit", "client.id"})

CLUSTER_KEYS = frozenset(
    {"bootstrap_servers", "config", "secrets", "description", "schema_registry"}
)
REGISTRY_KEYS = frozenset({"url", "username", "logical_cluster"})
# Secrets of the registry, named in the cluster's [secrets] table like librdkafka's.
REGISTRY_SECRETS = frozenset({"schema_registry.password", "schema_registry.token"})


@dataclass(frozen=True)
class RegistryConfig:
    """A cluster's Confluent-compatible Schema Registry (basic auth or a bearer token)."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    # Sent as `target-sr-cluster` with a token (Confluent Cloud's logical cluster id).
    logical_cluster: str = ""

    def client_config(self, *, timeout: float) -> dict[str, object]:
        """confluent_kafka.schema_registry settings (secrets included)."""
        conf: dict[str, object] = {"url": self.url, "timeout": timeout, "max.retries": 0}
        if self.username:
            conf["basic.auth.user.info"] = f"{self.username}:{self.password}"
        elif self.token:
            conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
            conf["bearer.auth.token"] = self.token
            conf["bearer.auth.logical.cluster"] = self.logical_cluster or "default"
        return conf


TOP_KEYS = frozenset({"default", "clusters"})


@dataclass(frozen=True)
class ClusterConfig:
    """One Kafka cluster kafkaview can talk to."""

    name: str
    bootstrap_servers: str
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    secret_sources: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    schema_registry: RegistryConfig | None = None

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for a client of this cluster (secrets included)."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.settings, **self.secrets}

    def public_settings(self) -> dict[str, str]:
        """Settings safe to show: secrets appear only as the variable they come from."""
        shown = {k: "<hidden>" if setting_is_secret(k) else v for k, v in self.settings.items()}
        for key, var in self.secret_sources.items():
            shown[key] = f"<from ${var}>"
        return shown


@dataclass(frozen=True)
class Clusters:
    """All configured clusters and the default one."""

    by_name: Mapping[str, ClusterConfig]
    default: str
    source: str


def validate_client_settings(
    *, source: str, key_prefix: str, conf: Mapping[str, str], secret_keys: frozenset[str]
) -> None:
    """Ask librdkafka itself whether these settings are valid (no connection is made)."""
    from confluent_kafka import KafkaException, Producer

    try:
        # Without bootstrap.servers librdkafka builds the client and connects to nothing;
        # log_level 0 keeps its warnings about consumer-only properties quiet.
        Producer({**conf, "log_level": 0})
    except KafkaException as exc:
        message = exc.args[0].str() if exc.args else str(exc)
        match = re.search(r'property:? "([^"]+)"', message)
        key = match.group(1) if match else None
        if key is not None and key in secret_keys:
            message = f"invalid value for secret setting {key!r} (value hidden)"
        # librdkafka may quote a value without naming its key: hide every secret value.
        for secret_key in secret_keys:
            value = conf.get(secret_key, "")
            if value and value in message:
                message = message.replace(value, "<value hidden>")
        raise ClusterConfigError(
            source=source, key=f"{key_prefix}.{key}" if key else key_prefix, problem=message
        ) from None


def _string_table(value: object, *, source: str, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ClusterConfigError(source=source, key=key, problem="must be a table")
    out: dict[str, str] = {}
    for k, raw in value.items():
        v = raw
        if isinstance(raw, bool):
            v = "true" if raw else "false"
        elif isinstance(raw, int | float):
            v = str(raw)
        if not isinstance(v, str):
            raise ClusterConfigError(
                source=source, key=f"{key}.{k}", problem="must be a string, number or boolean"
            )
        out[str(k)] = v
    return out


def _check_name(name: str, *, source: str, key: str) -> None:
    if not CLUSTER_NAME_RE.match(name):
        raise ClusterConfigError(
            source=source,
            key=key,
            problem=f"cluster name {name!r} must be 1-64 letters, digits, '.', '_' or '-'",
        )


def _cluster_from_table(
    name: str, table: object, *, source: str, env: Mapping[str, str]
) -> ClusterConfig:
    prefix = f"clusters.{name}"
    _check_name(name, source=source, key=prefix)
    if not isinstance(table, dict):
        raise ClusterConfigError(source=source, key=prefix, problem="must be a table")
    unknown = sorted(set(table) - CLUSTER_KEYS)
    if unknown:
        raise ClusterConfigError(
            source=source,
            key=f"{prefix}.{unknown[0]}",
            problem=f"unknown key; allowed: {', '.join(sorted(CLUSTER_KEYS))}",
        )
    bootstrap = table.get("bootstrap_servers")
    if not isinstance(bootstrap, str) or not bootstrap.strip():
        raise ClusterConfigError(
            source=source,
            key=f"{prefix}.bootstrap_servers",
            problem="required: a comma-separated list of host:port",
        )
    settings = _string_table(table.get("config", {}), source=source, key=f"{prefix}.config")
    for key in settings:
        if key in SECRET_SETTINGS:
            raise ClusterConfigError(
                source=source,
                key=f"{prefix}.config.{key}",
                problem="is a secret: name an environment variable under "
                f"[{prefix}.secrets] instead of writing the value in the file",
            )
        if key in RESERVED_SETTINGS:
            raise ClusterConfigError(
                source=source,
                key=f"{prefix}.config.{key}",
                problem="is set by kafkaview itself and cannot be configured",
            )
    secret_sources = _string_table(table.get("secrets", {}), source=source, key=f"{prefix}.secrets")
    secrets: dict[str, str] = {}
    for key, var in secret_sources.items():
        if key in RESERVED_SETTINGS:
            raise ClusterConfigError(
                source=source,
                key=f"{prefix}.secrets.{key}",
                problem="is set by kafkaview itself and cannot be configured",
            )
        if var not in env:
            raise ClusterConfigError(
                source=source,
                key=f"{prefix}.secrets.{key}",
                problem=f"environment variable {var} is not set",
            )
        secrets[key] = env[var]
    registry = _registry_from(table.get("schema_registry"), secrets, source=source, prefix=prefix)
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ClusterConfigError(
            source=source, key=f"{prefix}.description", problem="must be a string"
        )
    validate_client_settings(
        source=source,
        key_prefix=f"{prefix}.config",
        conf={**settings, **secrets},
        secret_keys=frozenset(secrets),
    )
    return ClusterConfig(
        name=name,
        bootstrap_servers=bootstrap.strip(),
        settings=settings,
        secrets=secrets,
        secret_sources=secret_sources,
        description=description,
        schema_registry=registry,
    )


def _registry_from(
    table: object, secrets: dict[str, str], *, source: str, prefix: str
) -> RegistryConfig | None:
    """[clusters.X.schema_registry] url/username; its password from [clusters.X.secrets]."""
    given = {k: secrets.pop(k) for k in sorted(REGISTRY_SECRETS) if k in secrets}
    password = given.get("schema_registry.password", "")
    token = given.get("schema_registry.token", "")
    if table is None:
        if given:
            raise ClusterConfigError(
                source=source,
                key=f"{prefix}.secrets.{next(iter(given))}",
                problem="set without a [schema_registry] table",
            )
        return None
    key = f"{prefix}.schema_registry"
    values = _string_table(table, source=source, key=key)
    unknown = sorted(set(values) - REGISTRY_KEYS)
    if unknown:
        raise ClusterConfigError(
            source=source,
            key=f"{key}.{unknown[0]}",
            problem=f"unknown key; allowed: {', '.join(sorted(REGISTRY_KEYS))}",
        )
    url = values.get("url", "").strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", url):
        raise ClusterConfigError(
            source=source, key=f"{key}.url", problem="required: an http:// or https:// URL"
        )
    username = values.get("username", "")
    if password and not username:
        raise ClusterConfigError(
            source=source, key=f"{key}.username", problem="required with a password"
        )
    if password and token:
        raise ClusterConfigError(
            source=source,
            key=f"{prefix}.secrets.schema_registry.token",
            problem="either a password (basic auth) or a token (bearer), not both",
        )
    return RegistryConfig(
        url=url,
        username=username,
        password=password,
        token=token,
        logical_cluster=values.get("logical_cluster", ""),
    )


def clusters_from_toml(text: str, *, source: str, env: Mapping[str, str]) -> Clusters:
    """Parse a clusters file's text; raise ClusterConfigError naming the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClusterConfigError(
            source=source, key="(file)", problem=f"not valid TOML: {exc}"
        ) from None
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ClusterConfigError(
            source=source, key=unknown[0], problem="unknown key; allowed: clusters, default"
        )
    tables = data.get("clusters")
    if not isinstance(tables, dict) or not tables:
        raise ClusterConfigError(
            source=source, key="clusters", problem="define at least one [clusters.<name>] table"
        )
    by_name = {
        name: _cluster_from_table(name, table, source=source, env=env)
        for name, table in tables.items()
    }
    default = data.get("default")
    if default is None:
        default = DEFAULT_CLUSTER if DEFAULT_CLUSTER in by_name else next(iter(by_name))
    if not isinstance(default, str) or default not in by_name:
        raise ClusterConfigError(
            source=source,
            key="default",
            problem=f"{default!r} is not one of the clusters defined: {', '.join(by_name)}",
        )
    return Clusters(by_name=by_name, default=default, source=source)


def clusters_from_env(env: Mapping[str, str]) -> Clusters:
    """The clusters kafkaview runs with, from KAFKAVIEW_CLUSTERS_FILE or KAFKA_BOOTSTRAP_SERVERS."""
    path = env.get("KAFKAVIEW_CLUSTERS_FILE", "").strip()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ClusterConfigError(
                source=path, key="(file)", problem=f"cannot be read: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise ClusterConfigError(
                source=path, key="(file)", problem="is not UTF-8 text"
            ) from None
        return clusters_from_toml(text, source=path, env=env)
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or DEFAULT_BOOTSTRAP
    url = env.get("KAFKAVIEW_SCHEMA_REGISTRY_URL", "").strip().rstrip("/")
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise ClusterConfigError(
            source="environment",
            key="KAFKAVIEW_SCHEMA_REGISTRY_URL",
            problem="expected an http:// or https:// URL",
        )
    local = ClusterConfig(
        name=DEFAULT_CLUSTER,
        bootstrap_servers=bootstrap,
        schema_registry=RegistryConfig(url=url) if url else None,
    )
    return Clusters(by_name={DEFAULT_CLUSTER: local}, default=DEFAULT_CLUSTER, source="environment")
