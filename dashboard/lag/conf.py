"""Lag-history settings shared by the sampler (writer) and the history, metrics and views (readers).

The values and their defaults live in kafkaview/settings.py; this module only names them,
so the read side does not import the sampler to learn them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

# An unchanged end offset is still kept in memory this often, so interpolation knows
# that nothing was produced for a while.
POINT_KEEPALIVE_SECONDS = 300.0


@dataclass(frozen=True)
class Tier:
    """A downsampled tier: one point per `bucket` seconds, kept for `keep`."""

    number: int  # 1, 2, ...; 0 is the raw samples
    bucket: float
    keep: timedelta


def sample_interval() -> float:
    """Seconds between the sampler's rounds (KAFKAVIEW_SAMPLE_INTERVAL)."""
    return float(settings.KAFKAVIEW_SAMPLE_INTERVAL)


def status_window() -> int:
    """Samples in a status window (KAFKAVIEW_STATUS_WINDOW, Burrow's `intervals`)."""
    return int(settings.KAFKAVIEW_STATUS_WINDOW)


def retention() -> timedelta:
    """How long any history is kept at most (KAFKAVIEW_HISTORY_RETENTION_DAYS)."""
    return timedelta(days=float(settings.KAFKAVIEW_HISTORY_RETENTION_DAYS))


def raw_keep() -> timedelta:
    """How long every sample is kept before it is folded (KAFKAVIEW_HISTORY_RAW)."""
    return timedelta(seconds=float(settings.KAFKAVIEW_HISTORY_RAW))


def tiers() -> list[Tier]:
    """The downsampled tiers (KAFKAVIEW_HISTORY_TIERS), finest first."""
    return [
        Tier(i, bucket, timedelta(seconds=keep))
        for i, (bucket, keep) in enumerate(settings.KAFKAVIEW_HISTORY_TIERS, start=1)
    ]
