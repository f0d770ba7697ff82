"""Who an identity provider says a user is: its subject, and the groups of the last login."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExternalIdentity(models.Model):
    """A user as an identity provider knows them (OIDC: issuer and sub; LDAP: the DN).

    A login through the provider finds the user by this, never by user name alone: a
    local account named like an IdP user is not taken over by it.
    """

    class Method(models.TextChoices):
        OIDC = "oidc"
        LDAP = "ldap"

    method = models.CharField(max_length=8, choices=Method.choices)
    subject = models.CharField(max_length=512)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    # At the last login: the IdP groups received, and the Django groups they mapped to with
    # the mapping line behind each ([IdP group, line, Django group]).
    idp_groups = models.JSONField(default=list)
    django_groups = models.JSONField(default=list)
    because = models.JSONField(default=list)
    last_login_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["method", "subject"], name="external_identity_unique")
        ]
