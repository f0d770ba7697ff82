"""`manage.py check` (and migrate, which runs it) asks the identity provider at once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.core.checks import register


@register()
def oidc_provider_answers(app_configs: Any = None, **_: Any) -> list[CheckWarning]:
    """A warning, not an error: the provider may come up after us (logins answer 503 till then)."""
    if settings.KAFKAVIEW_AUTH.oidc is None:
        return []
    from dashboard.auth.oidc import ProviderUnavailable, discovery

    try:
        discovery().get()
    except ProviderUnavailable as exc:
        return [
            CheckWarning(
                exc.message,
                hint=f"oidc.issuer in {settings.KAFKAVIEW_AUTH.source}; sign-in answers 503 "
                "until the provider answers (the web process asks again).",
                id="kafkaview.W101",
            )
        ]
    return []
