"""The app's models, defined beside their feature and gathered here, where Django looks for them."""

from dashboard.lag.models import (
    GroupEvent,
    GroupState,
    LagSample,
    OffsetPoint,
    PartitionSample,
    SamplerLease,
    SampleRound,
    TopicSample,
)
from dashboard.writes.models import AuditRecord, KafkaAccess

__all__ = [
    "AuditRecord",
    "GroupEvent",
    "GroupState",
    "KafkaAccess",
    "LagSample",
    "OffsetPoint",
    "PartitionSample",
    "SampleRound",
    "SamplerLease",
    "TopicSample",
]
