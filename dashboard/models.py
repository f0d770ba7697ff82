"""The app's models, defined beside their feature and gathered here, where Django looks for them."""

from dashboard.alerts.models import Alert, AlertTracker, Notification, Silence
from dashboard.auth.models import ExternalIdentity
from dashboard.lag.models import (
    GroupEvent,
    GroupState,
    HistoryChunk,
    SamplerLease,
    SampleRound,
)
from dashboard.writes.models import AuditRecord, KafkaAccess, WriteGeneration

__all__ = [
    "Alert",
    "AlertTracker",
    "AuditRecord",
    "ExternalIdentity",
    "GroupEvent",
    "GroupState",
    "HistoryChunk",
    "KafkaAccess",
    "Notification",
    "SampleRound",
    "SamplerLease",
    "Silence",
    "WriteGeneration",
]
