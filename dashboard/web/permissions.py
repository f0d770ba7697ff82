"""Who may change a cluster: the write permissions and the read-only switch."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin

PRODUCE = "dashboard.produce_message"
RESET = "dashboard.reset_offsets"
CREATE = "dashboard.create_topics"
CONFIGURE = "dashboard.configure_kafka"
DELETE = "dashboard.delete_kafka"
WHAT = {
    PRODUCE: "produce messages",
    RESET: "reset consumer group offsets",
    CREATE: "create topics",
    CONFIGURE: "change topic, partition or broker settings",
    DELETE: "delete topics, records or consumer groups",
}


def may(user: AbstractBaseUser | AnonymousUser, permission: str) -> bool:
    """Whether the user may do this; KAFKAVIEW_READ_ONLY turns every write off."""
    if settings.KAFKAVIEW_READ_ONLY:
        return False
    return bool(
        user.is_authenticated and isinstance(user, PermissionsMixin) and user.has_perm(permission)
    )


def refusal(permission: str) -> str:
    """Why a write is refused, in words a user can act on."""
    if settings.KAFKAVIEW_READ_ONLY:
        return "This kafkaview runs read-only (KAFKAVIEW_READ_ONLY): nothing can be changed."
    what = WHAT.get(permission, permission)
    return f"You may not {what}: ask an administrator for the '{permission}' permission."
