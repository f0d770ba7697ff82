"""Prometheus metrics from the sampler's latest round (no Kafka call per scrape)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dashboard.alerts.models import Alert
from dashboard.kafka.client.clients import clusters_all
from dashboard.kafka.client.counters import SENT
from dashboard.lag import store
from dashboard.lag.history import last_ok_round, last_round
from dashboard.lag.models import GroupState
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
            "Offsets between the committed offset and the log end (high watermark): the lag"
            " read_uncommitted and kafka-consumer-groups count; a read_committed consumer"
            " stops at the last stable offset",
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
            "Sum of the group's partition lags (each to the log end, as"
            " kafkaview_consumergroup_lag)",
            labels=GROUP_LABELS,
        )
        end_offset = GaugeMetricFamily(
            "kafkaview_partition_end_offset",
            "Log-end offset (high watermark) of a partition",
            labels=["cluster", "topic", "partition"],
        )
        alert_open = GaugeMetricFamily(
            "kafkaview_alert_open",
            "1 for each open kafkaview alert (rule, subject), as the Alerts page lists them",
            labels=["cluster", "rule", "severity", "kind", "name"],
        )
        for a in Alert.objects.filter(state=Alert.State.OPEN).order_by("id"):
            if a.kind == "group" and not self.sees_group(a.cluster, a.name):
                continue
            if a.kind == "topic" and not self.sees_topic(a.cluster, a.name):
                continue
            alert_open.add_metric([a.cluster, a.rule, a.severity, a.kind, a.name], 1.0)
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
            for group, rnd in sorted(store.latest_groups(cluster=cluster, at=ok.at).items()):
                if not self.sees_group(cluster, group):
                    continue
                kind = types.get(group, "classic")
                total = 0
                for s in rnd.partitions:
                    if not self.sees_topic(cluster, s.topic):
                        continue
                    total += s.lag
                    labels = [cluster, group, kind, s.topic, str(s.partition)]
                    lag.add_metric(labels, s.lag)
                    committed.add_metric(labels, s.committed)
                    if s.lag_seconds_estimate is not None:
                        lag_seconds.add_metric(labels, s.lag_seconds_estimate)
                    if s.status:
                        partition_status.add_metric(labels, Status[s.status].value)
                group_lag.add_metric([cluster, group, kind], total)
                # The round already holds the group's verdict (its worst partition's).
                if rnd.status in Status.__members__:
                    for status in Status:
                        group_status.add_metric(
                            [cluster, group, kind, status.name],
                            float(status.name == rnd.status),
                        )
            newest = store.latest_ends(cluster=cluster, at=ok.at)
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
            alert_open,
        )


class RequestsCollector(Collector):
    """The Kafka requests sent, by cluster and call: every web process's, added up."""

    def collect(self) -> Iterator[Metric]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Several web processes on one port: a scrape reaches one of them, which
            # reads every process's counts from the shared folder.
            yield from MultiProcessCollector(None).collect()
        else:
            yield from SENT.collect()
