"""Lag history, written by `manage.py lag_sampler` and read by the history pages and /metrics."""

from django.db import models


class SampleRound(models.Model):
    """One sampling pass over a cluster; a failed pass records the outage and writes no samples.

    Tier 0 rows are rounds; a tier n row stands for a folded bucket of them: `ok` only when
    every round in it read the cluster, the largest duration and sizes.
    """

    cluster = models.CharField(max_length=64)
    tier = models.PositiveSmallIntegerField(default=0)
    at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    groups = models.PositiveIntegerField(default=0)
    partitions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["cluster", "tier", "at"])]
        ordering = ["at"]


class SamplerLease(models.Model):
    """Which lag_sampler process samples (one per deployment) and until when it may.

    A row, renewed every round and taken over once it expires, works the same on SQLite
    and PostgreSQL; unlike a session's advisory lock, a hung holder loses it by itself.
    """

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField()
    renewed_at = models.DateTimeField()
    expires_at = models.DateTimeField()


class HistoryChunk(models.Model):
    """Many rounds of one group's partitions, or of one topic's end offsets, in one blob.

    The sampler appends to a group's (and a topic's) open chunk every round and rewrites
    it; a chunk closes after CHUNK_ROUNDS rounds or when the partitions change. Older
    chunks are folded into coarser tiers (1 min, then 10 min buckets by default).
    lag/codec.py holds the encoding; `last` holds the newest round of the newest chunk
    as (deflated) JSON, so the latest verdicts need no varint decoding.
    """

    class Kind(models.TextChoices):
        GROUP = "group", "a group's partitions"
        ENDS = "ends", "a topic's end offsets"

    cluster = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=1024, help_text="the group or the topic")
    tier = models.PositiveSmallIntegerField(default=0, help_text="0 raw, then coarser")
    start = models.DateTimeField()
    end = models.DateTimeField()
    rounds = models.PositiveIntegerField()
    # "|topic-a|topic-b|": lets a topic's history select its groups' chunks.
    topics = models.TextField(blank=True)
    data = models.BinaryField()
    # Deflated JSON (a few hundred bytes for a group of 25 partitions, not a few KB).
    last = models.BinaryField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "kind", "key", "tier", "end"]),
            models.Index(fields=["cluster", "kind", "tier", "end"]),
        ]


class GroupState(models.Model):
    """The last seen state and membership of a group, to tell what changed at the next round."""

    cluster = models.CharField(max_length=64)
    group = models.CharField(max_length=1024)
    state = models.CharField(max_length=32)
    # classic, consumer, share, streams, connect...: the `type` label of /metrics.
    type = models.CharField(max_length=32, default="classic")
    members = models.JSONField(default=dict)
    status = models.CharField(max_length=8, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "group"], name="group_state_unique")
        ]


class GroupEvent(models.Model):
    """A change of state or membership: the rebalances of the processing flow."""

    class Kind(models.TextChoices):
        STATE = "state", "state changed"
        JOINED = "joined", "member joined"
        LEFT = "left", "member left"
        MOVED = "moved", "partitions moved"
        STATUS = "status", "status changed"

    cluster = models.CharField(max_length=64)
    group = models.CharField(max_length=1024)
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField()
    # The topic a MOVED event is about (one event a topic), so scoped users see only the
    # moves on topics they may view; "" for other kinds and for rows from before it.
    topic = models.CharField(max_length=255, default="", blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "group", "at"]),
            models.Index(fields=["cluster", "at"]),
        ]
        ordering = ["-at", "-id"]
