"""Lag-history settings shared by the sampler (writer) and the history, metrics and views (readers).

The values and their defaults live in kafkaview/settings.py; this module only names them,
so the read side does not import the sampler to learn them.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

# An unchanged end offset is still stored this often, so interpolation knows
# that nothing was produced for a while (and /metrics knows how far back to look).
POINT_KEEPALIVE_SECONDS = 300.0


def sample_interval() -> float:
    """Seconds between the sampler's rounds (KAFKAVIEW_SAMPLE_INTERVAL)."""
    return float(settings.KAFKAVIEW_SAMPLE_INTERVAL)


def status_window() -> int:
    """Samples in a status window (KAFKAVIEW_STATUS_WINDOW, Burrow's `intervals`)."""
    return int(settings.KAFKAVIEW_STATUS_WINDOW)


def retention() -> timedelta:
    """How long history is kept (KAFKAVIEW_HISTORY_RETENTION_DAYS)."""
    return timedelta(days=float(settings.KAFKAVIEW_HISTORY_RETENTION_DAYS))
