"""Models of the writes: the permissions they need and the audit trail."""

from django.db import models


class KafkaAccess(models.Model):
    """Holds kafkaview's write permissions; no table (Django needs a model to hang them on)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("produce_message", "Can produce messages to topics"),
            ("reset_offsets", "Can reset consumer group offsets"),
            ("create_topics", "Can create topics"),
            ("configure_kafka", "Can change topic configs, partitions and broker configs"),
            ("delete_kafka", "Can delete topics, records, consumer groups and their offsets"),
        ]


class AuditRecord(models.Model):
    """Who changed what on which cluster: written before an action, completed after it."""

    class Action(models.TextChoices):
        PRODUCE = "produce", "produce"
        RESET_OFFSETS = "reset_offsets", "reset offsets"
        # A tail or search opened: who read which topic, from when to when, with what
        # filter; never the contents.
        READ = "read", "read (tail or search)"
        CREATE_TOPIC = "create_topic", "create topic"
        CONFIGURE = "configure", "change configs"
        ADD_PARTITIONS = "add_partitions", "add partitions"
        PURGE = "purge", "delete records"
        DELETE_TOPIC = "delete_topic", "delete topic"
        DELETE_GROUP = "delete_group", "delete consumer group"
        DELETE_OFFSETS = "delete_offsets", "delete committed offsets"
        EXPORT = "export", "export (download)"
        IMPORT = "import", "import (file)"
        REPUBLISH = "republish", "send records again"
        REDRIVE = "redrive", "redrive a dead-letter topic"
        ABORT_TRANSACTION = "abort_transaction", "abort a transaction"

    class Status(models.TextChoices):
        STARTED = "started", "started"
        DONE = "done", "done"
        PARTIAL = "partial", "partly failed"
        FAILED = "failed", "failed"

    user = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150)  # kept when the user is deleted
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cluster = models.CharField(max_length=64)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=1024, help_text="topic, group, or broker id")
    parameters = models.JSONField(default=dict)
    previous = models.JSONField(default=dict, blank=True, help_text="offsets the action replaced")
    result = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class WriteGeneration(models.Model):
    """One row: a number bumped after every produce or reset through any web process.

    Each process keeps its Kafka reads for a moment (shared reads); a read is reused only
    under the number it was made under, so after a write made through another process the
    next page reads Kafka again instead of showing what was there before the write.
    """

    value = models.BigIntegerField(default=0)
