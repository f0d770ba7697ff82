"""Who may see and do what: the access file's rules applied to the logged-in user.

Without KAFKAVIEW_ACCESS_FILE every logged-in user sees everything, and the write
permissions (dashboard.produce_message, dashboard.reset_offsets, dashboard.create_topics,
dashboard.configure_kafka, dashboard.delete_kafka) decide who writes — kafkaview's
behaviour before scoped access. With it, the rules decide; superusers may
do everything; KAFKAVIEW_READ_ONLY still turns every write off. What a user may not
view answers 404 (its existence is not revealed); an action not allowed on something
visible answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dashboard.access.rules import AccessRules
from dashboard.kafka.errors import ClusterNotFound, GroupNotFound, KafkaViewError, TopicNotFound
from dashboard.kafka.masking import Masker

# The Django permission behind each write action when no access file is configured.
LEGACY_PERMISSIONS = {
    "produce": "dashboard.produce_message",
    "reset": "dashboard.reset_offsets",
    "create": "dashboard.create_topics",
    "configure": "dashboard.configure_kafka",
    "delete": "dashboard.delete_kafka",
}


class AccessDenied(KafkaViewError):
    """The user sees the thing but may not do this to it (403)."""


@dataclass(frozen=True)
class Scope:
    """One user's view of the clusters under the access rules."""

    rules: AccessRules | None
    groups: frozenset[str]
    superuser: bool
    user: Any

    @property
    def limited(self) -> bool:
        """Whether some things may be hidden from this user."""
        return self.rules is not None and not self.superuser

    @property
    def key(self) -> Hashable:
        """Users with the same key see the same things (shared reads are keyed by it)."""
        return ("groups", self.groups) if self.limited else "all"

    def sees_cluster(self, cluster: str) -> bool:
        """Whether the user may see anything of the cluster."""
        if not self.limited or self.rules is None:
            return True
        return self.rules.sees_cluster(groups=self.groups, cluster=cluster)

    def sees_topic(self, cluster: str, topic: str) -> bool:
        """Whether the user may view the topic."""
        if not self.limited or self.rules is None:
            return True
        return self.rules.allows(groups=self.groups, cluster=cluster, action="view", topic=topic)

    def sees_group(self, cluster: str, group: str) -> bool:
        """Whether the user may view the consumer group."""
        if not self.limited or self.rules is None:
            return True
        return self.rules.allows(groups=self.groups, cluster=cluster, action="view", group=group)

    def topic_filter(self, cluster: str) -> Callable[[str], bool] | None:
        """A predicate of visible topics, or None when every topic is visible."""
        if not self.limited:
            return None
        return lambda topic: self.sees_topic(cluster, topic)

    def group_filter(self, cluster: str) -> Callable[[str], bool] | None:
        """A predicate of visible consumer groups, or None when every group is visible."""
        if not self.limited:
            return None
        return lambda group: self.sees_group(cluster, group)

    def may(
        self, action: str, *, cluster: str, topic: str | None = None, group: str | None = None
    ) -> bool:
        """Whether the user may tail, produce, reset, create, configure or delete (view: see
        sees_*); with neither topic nor group, an action on the cluster itself (its brokers)."""
        if action in LEGACY_PERMISSIONS and settings.KAFKAVIEW_READ_ONLY:
            return False
        if self.superuser:
            return True
        if self.rules is None:
            permission = LEGACY_PERMISSIONS.get(action)
            return permission is None or bool(self.user.has_perm(permission))
        return self.rules.allows(
            groups=self.groups, cluster=cluster, action=action, topic=topic, group=group
        )

    def masker(self, topic: str) -> Masker | None:
        """The masks of a topic for this user (superusers see values whole)."""
        if self.rules is None or self.superuser:
            return None
        return self.rules.masker(topic=topic)


def scope_of(user: Any) -> Scope:
    """The logged-in user's scope under the configured rules."""
    rules: AccessRules | None = settings.KAFKAVIEW_ACCESS
    names: frozenset[str] = frozenset()
    if rules is not None and getattr(user, "is_authenticated", False):
        names = frozenset(user.groups.values_list("name", flat=True))
    return Scope(
        rules=rules,
        groups=names,
        superuser=bool(getattr(user, "is_superuser", False)),
        user=user,
    )


def cluster_check(scope: Scope, cluster: str) -> None:
    """ClusterNotFound unless the user sees the cluster."""
    if not scope.sees_cluster(cluster):
        raise ClusterNotFound(cluster)


def topic_check(scope: Scope, cluster: str, topic: str, action: str = "view") -> None:
    """TopicNotFound when hidden; AccessDenied when visible but the action is not allowed."""
    cluster_check(scope, cluster)
    if not scope.sees_topic(cluster, topic):
        raise TopicNotFound(cluster=cluster, topic=topic)
    if action != "view" and not scope.may(action, cluster=cluster, topic=topic):
        raise AccessDenied(f"You may not {action} on topic {topic!r}: no rule of yours allows it.")


def group_check(scope: Scope, cluster: str, group: str, action: str = "view") -> None:
    """GroupNotFound when hidden; AccessDenied when visible but the action is not allowed."""
    cluster_check(scope, cluster)
    if not scope.sees_group(cluster, group):
        raise GroupNotFound(cluster=cluster, group=group)
    if action != "view" and not scope.may(action, cluster=cluster, group=group):
        raise AccessDenied(
            f"You may not {action} consumer group {group!r}: no rule of yours allows it."
        )
