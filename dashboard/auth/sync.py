"""What every login through an identity provider does: find the user, map and set the groups."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from dashboard.auth.config import AuthConfig, MappedGroups
from dashboard.auth.models import ExternalIdentity

LOG = logging.getLogger("kafkaview.auth")


class LoginRefused(Exception):
    """The provider said who the user is, but kafkaview will not log them in; says why."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        self.message, self.status = message, status
        super().__init__(message)


def auth_config() -> AuthConfig:
    """The sign-in settings in force."""
    config: AuthConfig = settings.KAFKAVIEW_AUTH
    return config


def groups_mapped(received: list[str]) -> MappedGroups:
    """The Django groups these IdP groups give; LoginRefused when none and that is not allowed."""
    config = auth_config()
    mapped = config.mapping.apply(received)
    if not mapped.django and not config.allow_unmapped:
        shown = ", ".join(repr(g[:80]) for g in mapped.received[:10]) or "none"
        raise LoginRefused(
            f"Your groups at the identity provider ({shown}) map to no kafkaview group. "
            "Ask an administrator to add a [[group_mappings]] line for one of them."
        )
    return mapped


def identity_user(method: str, subject: str, username: str) -> Any | None:
    """The user the provider's subject was given before; None for a new one.

    LoginRefused when the user name belongs to another account (a local one, or another
    subject's): a provider's user never takes over an account by its name.
    """
    found = (
        ExternalIdentity.objects.filter(method=method, subject=subject)
        .select_related("user")
        .first()
    )
    if found is not None:
        return found.user
    if get_user_model().objects.filter(username__iexact=username).exists():
        LOG.warning("%s login refused: user name %r is another account's", method, username[:150])
        raise LoginRefused(
            f"An account named {username[:150]!r} already exists in kafkaview and is not "
            "linked to this identity. Ask an administrator to rename or remove it."
        )
    return None


def login_record(user: Any, *, method: str, subject: str, mapped: MappedGroups) -> None:
    """Put the user in the groups the mapping gave and out of the other managed ones."""
    managed = auth_config().mapping.managed
    with transaction.atomic():
        wanted = set(mapped.django)
        have = set(user.groups.values_list("name", flat=True))
        drop = (have & managed) - wanted
        if drop:
            user.groups.remove(*Group.objects.filter(name__in=drop))
        for name in sorted(wanted - have):
            group, _ = Group.objects.get_or_create(name=name)
            user.groups.add(group)
        ExternalIdentity.objects.update_or_create(
            method=method,
            subject=subject,
            defaults={
                "user": user,
                "idp_groups": list(mapped.received),
                "django_groups": sorted(wanted),
                "because": [list(b) for b in mapped.because],
                "last_login_at": timezone.now(),
            },
        )
    if drop or wanted - have:
        LOG.info(
            "%s login of %r: groups added %s, removed %s",
            method,
            user.username,
            sorted(wanted - have),
            sorted(drop),
        )
    # Saving the user drops what web processes kept of it (dashboard/web/sessions.py).
    user.save()


class PermissionsBackend(ModelBackend):
    """Django's permissions of a user's groups, with no password login (password_login off)."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        """Never: the sign-in file turned local passwords off."""
        return None
