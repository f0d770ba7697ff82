"""The dashboard app: hands the client layer its settings once Django has read them."""

from __future__ import annotations

import gc
import logging
from typing import Any

from django.apps import AppConfig
from django.conf import settings

# The settings the client layer (dashboard/kafka/) is given; it reads none itself.
KAFKA_SETTINGS = frozenset(
    {"KAFKAVIEW_CLUSTERS", "KAFKAVIEW_REQUEST_TIMEOUT", "KAFKAVIEW_READ_MAX_AGE"}
)


def kafka_configure() -> None:
    """Pass the clusters, the request timeout and the read sharing to the client layer."""
    from dashboard.kafka.client.clients import clusters_configure
    from dashboard.kafka.client.shared import shared_configure
    from dashboard.writes.generation import generation_current

    clusters_configure(
        clusters=settings.KAFKAVIEW_CLUSTERS, request_timeout=settings.KAFKAVIEW_REQUEST_TIMEOUT
    )
    shared_configure(read_max_age=settings.KAFKAVIEW_READ_MAX_AGE, generation=generation_current)


def _on_locked_out(
    *, request: Any = None, username: str = "", ip_address: str = "", **_: Any
) -> None:
    # django-axes keeps every attempt (AccessAttempt, AccessLog in /admin/); say the lockout.
    logging.getLogger("kafkaview.auth").warning(
        "login locked out after repeated failures: user %r from %s", username[:150], ip_address
    )


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # Tests change settings with override_settings; the client layer follows them.
    if setting in KAFKA_SETTINGS:
        kafka_configure()


def gc_tune() -> None:
    """Fewer, later cyclic collections: a big cluster's answer is 100,000s of new objects."""
    # Reading 36,000 partitions' ends or 141,000 commits makes that many tuples and ints,
    # none of them in a cycle, yet at the default threshold (700) each 700 trigger a young
    # collection and every tenth of those walks the older generations again: on the
    # 9,000-topic bench cluster (bench/big.py) the topic list by messages took 1.06 s with
    # warm metadata, 0.68 s with no collector at all and 0.70 s with these settings; the
    # group list by lag 1.28 -> 0.86 s. Freezing moves what start-up made (modules,
    # settings, templates) out of every later collection's walk.
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


class DashboardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
    verbose_name = "kafkaview dashboard"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth import get_user_model
        from django.core.signals import setting_changed
        from django.db.models.signals import post_delete, post_save

        from dashboard.web.sessions import user_saved

        user_locked_out.connect(_on_locked_out, dispatch_uid="kafkaview-locked-out")
        import dashboard.auth.checks  # noqa: F401 - registers the provider check

        if settings.KAFKAVIEW_AUTH.oidc is not None:
            # An unreachable provider at start-up is said on the log and asked again.
            from dashboard.auth.oidc import discovery_start

            discovery_start()
        kafka_configure()
        gc_tune()
        setting_changed.connect(_on_setting_changed, dispatch_uid="kafkaview-kafka-settings")
        # A kept user (dashboard/web/sessions.py) is dropped when it changes in this process.
        for signal in (post_save, post_delete):
            signal.connect(user_saved, sender=get_user_model(), dispatch_uid="kafkaview-user")
