"""Fixtures for every test: users in the two roles (database only, no Kafka)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import PASSWORD, unique

# The servers (broker, registry, Daphne, Chromium), started only for tests that ask.
from tests.servers import (  # noqa: F401
    admin,
    browser_page,
    daphne_server,
    database_sessions_closed,
    kafka_broker,
    make_topic,
    schema_registry,
    second_daphne_server,
)


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username=unique("user"), password=PASSWORD)


def roles_ensure() -> None:
    """The viewer, operator and cluster-admin groups, as the migrations make them (a
    transactional test before this one may have flushed them)."""
    import importlib

    from django.apps import apps

    importlib.import_module("dashboard.migrations.0002_roles").create_roles(apps, None)
    importlib.import_module("dashboard.migrations.0011_operate").create_admin_role(apps, None)
    importlib.import_module("dashboard.migrations.0014_alerts").alert_role(apps, None)


@pytest.fixture
def operator(client: Any, user: Any) -> Any:
    """A test client logged in as a member of the operator group (may produce and reset)."""
    from django.contrib.auth.models import Group

    roles_ensure()
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return client


@pytest.fixture
def cluster_admin(client: Any, user: Any) -> Any:
    """A test client logged in as a member of cluster-admin (every write)."""
    from django.contrib.auth.models import Group

    roles_ensure()
    user.groups.add(Group.objects.get(name="cluster-admin"))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client: Any, user: Any) -> Any:
    """A test client logged in as a member of the viewer group (read only)."""
    from django.contrib.auth.models import Group

    roles_ensure()
    user.groups.add(Group.objects.get(name="viewer"))
    client.force_login(user)
    return client
