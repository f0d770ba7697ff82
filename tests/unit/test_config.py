"""Cluster configuration parsing: environment, TOML files, and every kind of bad file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.kafka.config import clusters_from_env, clusters_from_toml
from dashboard.kafka.errors import ClusterConfigError
from tests.helpers import BASE_DIR

GOOD = """
default = "prod"

[clusters.local]
bootstrap_servers = "127.0.0.1:9092"

[clusters.prod]
bootstrap_servers = "kafka-1:9093,kafka-2:9093"
description = "production"
[clusters.prod.config]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "kafkaview"
"socket.timeout.ms" = 5000
[clusters.prod.secrets]
"sasl.password" = "PROD_KAFKA_PASSWORD"
"""


def test_default_is_one_local_cluster() -> None:
    clusters = clusters_from_env({})
    assert list(clusters.by_name) == ["local"]
    assert clusters.default == "local"
    assert clusters.by_name["local"].bootstrap_servers == "127.0.0.1:9092"


def test_bootstrap_servers_env_points_local_elsewhere() -> None:
    clusters = clusters_from_env({"KAFKA_BOOTSTRAP_SERVERS": " broker-a:9092,broker-b:9092 "})
    assert clusters.by_name["local"].bootstrap_servers == "broker-a:9092,broker-b:9092"


def test_file_with_several_clusters_and_secrets_from_env(tmp_path: Path) -> None:
    path = tmp_path / "clusters.toml"
    path.write_text(GOOD)
    env = {"KAFKAVIEW_CLUSTERS_FILE": str(path), "PROD_KAFKA_PASSWORD": "hunter2-secret"}
    clusters = clusters_from_env(env)
    assert set(clusters.by_name) == {"local", "prod"}
    assert clusters.default == "prod"
    prod = clusters.by_name["prod"]
    conf = prod.client_config()
    assert conf["bootstrap.servers"] == "kafka-1:9093,kafka-2:9093"
    assert conf["sasl.password"] == "hunter2-secret"
    assert conf["socket.timeout.ms"] == "5000"
    # The secret never shows in what can be displayed or logged.
    assert "hunter2-secret" not in repr(prod)
    assert "hunter2-secret" not in str(prod.public_settings())
    assert prod.public_settings()["sasl.password"] == "<from $PROD_KAFKA_PASSWORD>"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[clusters.a\nbootstrap_servers=1", "(file)", "not valid TOML"),
        ("colour = 'red'\n[clusters.a]\nbootstrap_servers='h:1'", "colour", "unknown key"),
        ("default = 'a'", "clusters", "at least one"),
        ("[clusters.a]\nport = 1", "clusters.a.port", "unknown key"),
        ("[clusters.a]\ndescription = 'x'", "clusters.a.bootstrap_servers", "required"),
        ("[clusters.'bad name']\nbootstrap_servers='h:1'", "clusters.bad name", "cluster name"),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.config]\n'no.such.setting'='1'",
            "clusters.a.config.no.such.setting",
            "No such configuration property",
        ),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.config]\n'security.protocol'='BOGUS'",
            "clusters.a.config.security.protocol",
            "Invalid value",
        ),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.config]\n'sasl.password'='plain'",
            "clusters.a.config.sasl.password",
            "is a secret",
        ),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.config]\n'group.id'='g'",
            "clusters.a.config.group.id",
            "set by kafkaview",
        ),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.secrets]\n'sasl.password'='NOT_SET_VAR'",
            "clusters.a.secrets.sasl.password",
            "NOT_SET_VAR is not set",
        ),
        (
            "[clusters.a]\nbootstrap_servers='h:1'\n[clusters.a.config]\nx = [1, 2]",
            "clusters.a.config.x",
            "must be a string",
        ),
        ("default = 'b'\n[clusters.a]\nbootstrap_servers='h:1'", "default", "not one of"),
    ],
)
def test_bad_file_names_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "clusters.toml"
    path.write_text(text)
    with pytest.raises(ClusterConfigError) as info:
        clusters_from_env({"KAFKAVIEW_CLUSTERS_FILE": str(path)})
    assert info.value.source == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(path) in str(info.value)


def test_invalid_secret_value_is_not_echoed() -> None:
    text = (
        "[clusters.a]\nbootstrap_servers='h:1'\n"
        "[clusters.a.config]\n'security.protocol'='SASL_PLAINTEXT'\n"
        "[clusters.a.secrets]\n'sasl.oauthbearer.config'='OAUTH_CONF'\n'sasl.mechanism'='MECH'\n"
    )
    with pytest.raises(ClusterConfigError) as info:
        clusters_from_toml(
            text, source="f.toml", env={"OAUTH_CONF": "x", "MECH": "TOP-SECRET-MECH"}
        )
    assert "TOP-SECRET-MECH" not in str(info.value)
    assert "value hidden" in str(info.value)
    assert "Unsupported SASL mechanism" in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ClusterConfigError, match="cannot be read") as info:
        clusters_from_env({"KAFKAVIEW_CLUSTERS_FILE": str(missing)})
    assert info.value.source == str(missing)


def test_bad_file_stops_django_start_up_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "clusters.toml"
    path.write_text("[clusters.a]\nbootstrap_servers='h:1'\nsurprise=1\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKAVIEW_CLUSTERS_FILE": str(path),
        "DJANGO_SECRET_KEY": "test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"{path}: clusters.a.surprise: unknown key" in result.stderr


def test_a_cluster_schema_registry_with_basic_auth_or_a_token_from_secrets() -> None:
    text = (
        "[clusters.a]\nbootstrap_servers='h:1'\n"
        "[clusters.a.schema_registry]\nurl='https://sr.example.com/'\nusername='kv'\n"
        "[clusters.a.secrets]\n'schema_registry.password'='SR_PASS'\n"
        "[clusters.b]\nbootstrap_servers='h:2'\n"
        "[clusters.b.schema_registry]\nurl='http://sr-b:8081'\nlogical_cluster='lsrc-1'\n"
        "[clusters.b.secrets]\n'schema_registry.token'='SR_TOKEN'\n"
    )
    env = {"SR_PASS": "hunter2", "SR_TOKEN": "tok"}
    clusters = clusters_from_toml(text, source="c.toml", env=env)
    a = clusters.by_name["a"].schema_registry
    b = clusters.by_name["b"].schema_registry
    assert a is not None and b is not None
    assert a.client_config(timeout=3)["basic.auth.user.info"] == "kv:hunter2"
    assert a.url == "https://sr.example.com"
    conf = b.client_config(timeout=3)
    assert (conf["bearer.auth.token"], conf["bearer.auth.logical.cluster"]) == ("tok", "lsrc-1")
    # Secrets stay out of repr() and out of the librdkafka settings.
    assert "hunter2" not in repr(clusters) and "tok" not in repr(b)
    assert "schema_registry.password" not in clusters.by_name["a"].client_config()
    assert clusters_from_env({"KAFKAVIEW_SCHEMA_REGISTRY_URL": "http://r:1/"}).by_name[
        "local"
    ].schema_registry == type(a)(url="http://r:1")


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ("[clusters.a.schema_registry]\nurl='ftp://x'\n", "clusters.a.schema_registry.url", "URL"),
        ("[clusters.a.schema_registry]\nurl='http://x'\nfoo='1'\n",
         "clusters.a.schema_registry.foo", "unknown key"),
        ("[clusters.a.secrets]\n'schema_registry.password'='P'\n",
         "clusters.a.secrets.schema_registry.password", "without a [schema_registry]"),
        ("[clusters.a.schema_registry]\nurl='http://x'\n[clusters.a.secrets]\n"
         "'schema_registry.password'='P'\n", "clusters.a.schema_registry.username", "required"),
    ],
)  # fmt: skip
def test_bad_registry_settings_name_the_key(extra: str, key: str, problem: str) -> None:
    text = "[clusters.a]\nbootstrap_servers='h:1'\n" + extra
    with pytest.raises(ClusterConfigError) as info:
        clusters_from_toml(text, source="c.toml", env={"P": "x"})
    assert info.value.key == key and problem in info.value.problem
    with pytest.raises(ClusterConfigError, match="KAFKAVIEW_SCHEMA_REGISTRY_URL"):
        clusters_from_env({"KAFKAVIEW_SCHEMA_REGISTRY_URL": "nope"})
