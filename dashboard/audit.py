"""The audit trail: a record is written before an action and completed after it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from dashboard.models import AuditRecord


def audit_start(
    *,
    user: AbstractBaseUser | AnonymousUser,
    cluster: str,
    action: str,
    target: str,
    parameters: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> AuditRecord:
    """Write the record of an action about to happen (before anything changes)."""
    return AuditRecord.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=user.get_username() if user.is_authenticated else "",
        cluster=cluster,
        action=action,
        target=target,
        parameters=parameters,
        previous=previous or {},
    )


def audit_finish(record: AuditRecord, *, status: str, result: dict[str, Any]) -> None:
    """Complete the record with what happened."""
    record.status = status
    record.result = result
    record.completed_at = timezone.now()
    record.save(update_fields=["status", "result", "completed_at"])
