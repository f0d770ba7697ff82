"""Database models of the dashboard."""

from django.db import models


class KafkaAccess(models.Model):
    """Holds kafkaview's write permissions; no table (Django needs a model to hang them on)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("produce_message", "Can produce messages to topics"),
            ("reset_offsets", "Can reset consumer group offsets"),
        ]
