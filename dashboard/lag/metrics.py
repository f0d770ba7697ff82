"""Prometheus metrics from the sampler's latest round (no Kafka call per scrape)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dashboard.kafka.clusters import clusters_all
from dashboard.kafka.requests import requests_counted
from dashboard.lag.conf import POINT_KEEPALIVE_SECONDS, sample_interval
from dashboard.lag.history import last_ok_round, last_round
from dashboard.lag.models import GroupState, LagSample, OffsetPoint
from dashboard.lag.rules import Status

PARTITION_LABELS = ["cluster", "group", "type", "topic", "partition"]
GROUP_LABELS = ["cluster", "group", "type"]


class HistoryCollector(Collector):
    """Lag, lag seconds, status and end offsets by cluster, group, topic and partition.

    With sees_group / sees_topic (a person under access rules), only the groups and
    topics they may view are exported, and a group's total counts its visible partitions.
    """

    def __init__(
        self,
        *,
        sees_group: Callable[[str, str], bool] | None = None,
        sees_topic: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.sees_group = sees_group or (lambda cluster, group: True)
        self.sees_topic = sees_topic or (lambda cluster, topic: True)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "kafkaview_sampler_up",
            "1 when the sampler's last round read the cluster, 0 when it could not",
            labels=["cluster"],
        )
        last_ok = GaugeMetricFamily(
            "kafkaview_sampler_last_success_timestamp_seconds",
            "When the sampler last read the cluster (Unix time)",
            labels=["cluster"],
        )
        lag = GaugeMetricFamily(
            "kafkaview_consumergroup_lag",
            "Messages between the committed offset and the log end",
            labels=PARTITION_LABELS,
        )
        lag_seconds = GaugeMetricFamily(
            "kafkaview_consumergroup_lag_seconds_estimate",
            "Estimated age of the first unconsumed message (interpolated from sampled end offsets)",
            labels=PARTITION_LABELS,
        )
        committed = GaugeMetricFamily(
            "kafkaview_consumergroup_committed_offset",
            "The group's committed offset",
            labels=PARTITION_LABELS,
        )
        partition_status = GaugeMetricFamily(
            "kafkaview_consumergroup_partition_status",
            "Burrow-style partition status: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP",
            labels=PARTITION_LABELS,
        )
        group_status = GaugeMetricFamily(
            "kafkaview_consumergroup_status",
            "1 for the group's current status (its worst partition's), 0 for the others",
            labels=[*GROUP_LABELS, "status"],
        )
        group_lag = GaugeMetricFamily(
            "kafkaview_consumergroup_lag_total",
            "Sum of the group's partition lags",
            labels=GROUP_LABELS,
        )
        end_offset = GaugeMetricFamily(
            "kafkaview_partition_end_offset",
            "Log-end offset (high watermark) of a partition",
            labels=["cluster", "topic", "partition"],
        )
        for cluster in clusters_all().by_name:
            last = last_round(cluster=cluster)
            if last is None:
                continue
            up.add_metric([cluster], 1.0 if last.ok else 0.0)
            ok = last if last.ok else last_ok_round(cluster=cluster)
            if ok is None:
                continue
            last_ok.add_metric([cluster], ok.at.timestamp())
            types = dict(GroupState.objects.filter(cluster=cluster).values_list("group", "type"))
            for row in LagSample.objects.filter(cluster=cluster, at=ok.at).order_by("group"):
                if not self.sees_group(cluster, row.group):
                    continue
                kind = types.get(row.group, "classic")
                total = 0
                for s in row.partition_samples():
                    if not self.sees_topic(cluster, s.topic):
                        continue
                    total += s.lag
                    labels = [cluster, row.group, kind, s.topic, str(s.partition)]
                    lag.add_metric(labels, s.lag)
                    committed.add_metric(labels, s.committed)
                    if s.lag_seconds_estimate is not None:
                        lag_seconds.add_metric(labels, s.lag_seconds_estimate)
                    if s.status:
                        partition_status.add_metric(labels, Status[s.status].value)
                group_lag.add_metric([cluster, row.group, kind], total)
                # The row already holds the group's verdict (its worst partition's).
                if row.status in Status.__members__:
                    for status in Status:
                        group_status.add_metric(
                            [cluster, row.group, kind, status.name],
                            float(status.name == row.status),
                        )
            # End offsets are stored when they move (and every few minutes): the newest point of
            # each partition within that span is its end offset at the last round.
            since = ok.at - timedelta(seconds=POINT_KEEPALIVE_SECONDS + 2 * sample_interval())
            newest: dict[tuple[str, int], int] = {}
            for topic, partition, end in (
                OffsetPoint.objects.filter(cluster=cluster, at__gte=since, at__lte=ok.at)
                .order_by("at")
                .values_list("topic", "partition", "end_offset")
            ):
                newest[(topic, partition)] = end
            for (topic, partition), end in sorted(newest.items()):
                if self.sees_topic(cluster, topic):
                    end_offset.add_metric([cluster, topic, str(partition)], end)
        yield from (
            up,
            last_ok,
            lag,
            lag_seconds,
            committed,
            partition_status,
            group_status,
            group_lag,
            end_offset,
        )


class RequestsCollector(Collector):
    """The Kafka requests this web process has sent, by cluster and call."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        sent = CounterMetricFamily(
            "kafkaview_kafka_requests",
            "Kafka requests sent by this process (admin calls, fetches for lag times, "
            "our own protocol requests), by cluster and call",
            labels=["cluster", "call"],
        )
        for (cluster, call), n in sorted(requests_counted().items()):
            sent.add_metric([cluster, call], n)
        yield sent
