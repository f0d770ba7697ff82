"""Lag history, written by `manage.py lag_sampler` and read by the history pages and /metrics."""

from dataclasses import dataclass

from django.db import models


class SampleRound(models.Model):
    """One sampling pass over a cluster; a failed pass records the outage and writes no samples."""

    cluster = models.CharField(max_length=64)
    at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    groups = models.PositiveIntegerField(default=0)
    partitions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["cluster", "at"])]
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


@dataclass(frozen=True)
class PartitionSample:
    """One partition of a LagSample: the group's position and the verdict at that round."""

    topic: str
    partition: int
    committed: int
    end_offset: int
    lag: int
    last_commit_at: float | None  # Unix seconds
    commits: int
    lag_seconds_estimate: float | None  # interpolated from the sampled end offsets
    lag_seconds_at_least: bool
    status: str

    def packed(self) -> list[object]:
        """The compact JSON row stored in LagSample.partitions."""
        return [
            self.topic,
            self.partition,
            self.committed,
            self.end_offset,
            self.lag,
            None if self.last_commit_at is None else round(self.last_commit_at, 3),
            self.commits,
            None if self.lag_seconds_estimate is None else round(self.lag_seconds_estimate, 1),
            1 if self.lag_seconds_at_least else 0,
            self.status,
        ]


class LagSample(models.Model):
    """A group at one round: its status, total lag and every partition as a compact JSON row.

    One row per group and round, not per partition: a partition costs ~60 bytes of
    JSON instead of a ~350-byte row with three index entries (bench/sampler.py).
    """

    cluster = models.CharField(max_length=64)
    group = models.CharField(max_length=1024)
    at = models.DateTimeField()
    status = models.CharField(max_length=8, blank=True)
    total_lag = models.BigIntegerField()
    # "|topic-a|topic-b|": lets a topic's history select its groups' rows.
    topics = models.TextField()
    partitions = models.JSONField(help_text="[topic, partition, committed, end, lag, ...] rows")

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "group", "at"]),
            models.Index(fields=["cluster", "at"]),
        ]

    def partition_samples(self) -> list[PartitionSample]:
        """The partitions as dataclasses."""
        return [
            PartitionSample(t, p, c, e, lag, commit, n, secs, bool(least), status)
            for t, p, c, e, lag, commit, n, secs, least, status in self.partitions
        ]


class OffsetPoint(models.Model):
    """A partition's log-end offset at a time: stored when it moved (and every few minutes)."""

    cluster = models.CharField(max_length=64)
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    at = models.DateTimeField()
    end_offset = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "topic", "partition", "at"]),
            models.Index(fields=["cluster", "at"]),
        ]


class TopicSample(models.Model):
    """A topic's summed log-end offsets at a round, for its produce rate."""

    cluster = models.CharField(max_length=64)
    topic = models.CharField(max_length=249)
    at = models.DateTimeField()
    end_offsets = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "topic", "at"]),
            models.Index(fields=["cluster", "at"]),
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

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "group", "at"]),
            models.Index(fields=["cluster", "at"]),
        ]
        ordering = ["-at", "-id"]
