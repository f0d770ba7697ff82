"""Integration tests: the session's broker, registry, Daphne and Chromium (tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from devtools.broker import LocalBroker
from tests.helpers import BASE_DIR, CACHE_DIR, clusters_for
from tests.servers import daphne_env

__all__ = ["BASE_DIR", "CACHE_DIR", "daphne_env"]


@pytest.fixture(scope="session", autouse=True)
def _database_sessions_closed(database_sessions_closed: None) -> None:
    """Every integration session ends the database's other connections before dropping it."""


@pytest.fixture(scope="session", autouse=True)
def kafka_settings(kafka_broker: LocalBroker) -> Iterator[None]:
    # Tests change the cluster and look at once: no read is shared unless a test asks
    # (tests/integration/test_viewers.py sets its own KAFKAVIEW_READ_MAX_AGE).
    with override_settings(
        KAFKAVIEW_CLUSTERS=clusters_for(kafka_broker.bootstrap_servers), KAFKAVIEW_READ_MAX_AGE=0
    ):
        yield
