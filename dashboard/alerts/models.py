"""Alerts in the database: each (rule, subject)'s tracked state, the alerts opened and
resolved (the history, beside the audit), every notification and its attempts, silences."""

from __future__ import annotations

from django.db import models


class AlertTracker(models.Model):
    """Where one (rule, subject) stands between rounds (engine.Tracked), so a sampler that
    takes over the lease carries on: no alert opened twice, none forgotten."""

    rule = models.CharField(max_length=100)
    subject = models.CharField(max_length=1200)
    state = models.JSONField(default=dict)
    alert = models.ForeignKey("Alert", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject"], name="alert_tracker_unique")
        ]


class Alert(models.Model):
    """One episode of a rule on a subject: opened once, resolved once."""

    class State(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    rule = models.CharField(max_length=100)
    severity = models.CharField(max_length=16)
    cluster = models.CharField(max_length=64)
    subject = models.CharField(max_length=1200)
    kind = models.CharField(max_length=16)  # group, topic or cluster
    name = models.CharField(max_length=1024)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True)
    text = models.TextField()
    value = models.FloatField(null=True)
    acked_by = models.CharField(max_length=150, blank=True)
    acked_at = models.DateTimeField(null=True)

    class Meta:
        default_permissions = ()
        permissions = [("manage_alerts", "Silence and acknowledge alerts, test receivers")]
        indexes = [models.Index(fields=["state", "opened_at"])]


class Notification(models.Model):
    """A message to one receiver, written before it is sent; its attempts in order."""

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        SILENCED = "silenced"
        FAILED = "failed"  # given up after NOTIFY_GIVE_UP

    alert = models.ForeignKey(Alert, null=True, on_delete=models.CASCADE)
    receiver = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)  # open, remind, resolved or test
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField()
    next_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True)
    attempts = models.JSONField(default=list)  # [{"at", "ok", "detail"}]

    class Meta:
        indexes = [models.Index(fields=["state", "next_at"])]


class Silence(models.Model):
    """No notifications for a rule, a subject or both until `until` (alerts still open)."""

    rule = models.CharField(max_length=100, blank=True)  # blank: every rule
    subject = models.CharField(max_length=1200, blank=True)  # blank: every subject
    until = models.DateTimeField()
    reason = models.CharField(max_length=500)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)

    def covers(self, rule: str, subject: str) -> bool:
        """Whether the silence holds this rule's alert on this subject."""
        return (not self.rule or self.rule == rule) and (
            not self.subject or self.subject == subject
        )


__all__ = ["Alert", "AlertTracker", "Notification", "Silence"]
