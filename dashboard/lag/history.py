"""Reading the sampler's history: latest verdicts, chart series and events (database only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.lag.conf import sample_interval
from dashboard.lag.lease import lease_state
from dashboard.lag.models import GroupEvent, LagSample, PartitionSample, SampleRound, TopicSample
from dashboard.lag.rules import Status, group_status
from dashboard.web.jsonutil import to_json

# A chart never carries more points than this; longer ranges are thinned evenly.
MAX_POINTS = 720
RANGES = {"15m": 15, "1h": 60, "6h": 360, "24h": 1440, "7d": 10080}
DEFAULT_RANGE = "1h"


@dataclass(frozen=True)
class PartitionHealth:
    """A partition's latest sample: verdict, estimated lag seconds, last commit."""

    status: str
    lag: int
    lag_seconds_estimate: float | None
    lag_seconds_at_least: bool
    last_commit_at: datetime | None
    commits: int
    at: datetime


@dataclass(frozen=True)
class GroupHealth:
    """A group's latest verdict (the worst partition's) and its largest estimated lag seconds."""

    status: str
    lag_seconds_estimate: float | None
    lag_seconds_at_least: bool
    at: datetime


@dataclass(frozen=True)
class GroupListRow:
    """A group-list row with the sampler's verdict; other attributes come from the summary."""

    summary: Any
    status: str
    status_rank: int
    lag_seconds_estimate: float | None
    lag_seconds_at_least: bool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.summary, name)

    def as_json(self) -> dict[str, Any]:
        """The summary's fields plus status and estimated lag seconds."""
        return {
            **to_json(self.summary),
            "status": self.status,
            "lag_seconds_estimate": self.lag_seconds_estimate,
            "lag_seconds_at_least": self.lag_seconds_at_least,
        }


def group_list_rows(*, cluster: str, summaries: Iterable[Any]) -> list[GroupListRow]:
    """Group summaries joined with their latest verdicts."""
    health = groups_health(cluster=cluster)
    rows = []
    for summary in summaries:
        h = health.get(summary.group)
        status = h.status if h else ""
        rows.append(
            GroupListRow(
                summary=summary,
                status=status,
                status_rank=Status[status].value if status else -1,
                lag_seconds_estimate=h.lag_seconds_estimate if h else None,
                lag_seconds_at_least=bool(h and h.lag_seconds_at_least),
            )
        )
    return rows


def last_round(*, cluster: str) -> SampleRound | None:
    """The sampler's most recent round for the cluster, failed or not."""
    return SampleRound.objects.filter(cluster=cluster).order_by("-at").first()


def last_ok_round(*, cluster: str) -> SampleRound | None:
    """The most recent round that read the cluster."""
    return SampleRound.objects.filter(cluster=cluster, ok=True).order_by("-at").first()


def sampler_state(*, cluster: str) -> dict[str, object]:
    """Whether history is available and fresh, for pages and JSON."""
    last = last_round(cluster=cluster)
    ok = last_ok_round(cluster=cluster) if last is not None and not last.ok else last
    interval = sample_interval()
    # A round may take a few request timeouts when the cluster is down; past that, silence
    # means the sampler stopped (or is being restarted).
    silent = last is not None and (datetime.now(UTC) - last.at).total_seconds() > 3 * interval + 15
    lease = lease_state()
    return {
        "interval": interval,
        # Which lag_sampler process samples (one per deployment), and since when.
        "holder": lease.holder if lease is not None and lease.holder else None,
        "holder_since": lease.acquired_at if lease is not None and lease.holder else None,
        "running": last is not None,
        "stale": silent,
        "last_round_at": last.at if last else None,
        "last_round_ok": bool(last and last.ok),
        "last_error": last.error if last and not last.ok else "",
        "last_ok_at": ok.at if ok else None,
    }


def group_partitions_health(*, cluster: str, group: str) -> dict[tuple[str, int], PartitionHealth]:
    """The group's partitions from its latest sampled round, by (topic, partition)."""
    row = LagSample.objects.filter(cluster=cluster, group=group).order_by("-at").first()
    if row is None:
        return {}
    return {(p.topic, p.partition): _health(p, row.at) for p in row.partition_samples()}


def _health(p: PartitionSample, at: datetime) -> PartitionHealth:
    return PartitionHealth(
        status=p.status,
        lag=p.lag,
        lag_seconds_estimate=p.lag_seconds_estimate,
        lag_seconds_at_least=p.lag_seconds_at_least,
        last_commit_at=None
        if p.last_commit_at is None
        else datetime.fromtimestamp(p.last_commit_at, UTC),
        commits=p.commits,
        at=at,
    )


def worst(statuses: list[str]) -> str:
    """The most severe of some status names ('' when none)."""
    overall = group_status(Status[s] for s in statuses if s in Status.__members__)
    return overall.name if overall is not None else ""


def groups_health(*, cluster: str) -> dict[str, GroupHealth]:
    """Every group's verdict from the latest successful round."""
    round_ = last_ok_round(cluster=cluster)
    if round_ is None:
        return {}
    out = {}
    for row in LagSample.objects.filter(cluster=cluster, at=round_.at):
        timed = [p for p in row.partition_samples() if p.lag_seconds_estimate is not None]
        top = max(timed, key=lambda p: p.lag_seconds_estimate or 0.0, default=None)
        out[row.group] = GroupHealth(
            status=row.status,
            lag_seconds_estimate=top.lag_seconds_estimate if top else None,
            lag_seconds_at_least=bool(top and top.lag_seconds_at_least),
            at=round_.at,
        )
    return out


def range_minutes(value: str | None) -> tuple[str, int]:
    """A chart range name (15m, 1h, 6h, 24h, 7d) and its minutes; the default when unknown."""
    name = value if value in RANGES else DEFAULT_RANGE
    return name, RANGES[name]


def _rounds(*, cluster: str, since: datetime) -> list[tuple[datetime, bool]]:
    """Rounds since a time; a pause of the sampler longer than 3 intervals becomes a gap point."""
    rounds = list(
        SampleRound.objects.filter(cluster=cluster, at__gte=since)
        .order_by("at")
        .values_list("at", "ok")
    )
    if len(rounds) > MAX_POINTS:
        step = len(rounds) / MAX_POINTS
        picked = [rounds[int(i * step)] for i in range(MAX_POINTS)]
        # Keep failed rounds: they are the gaps the chart must show.
        failed = [r for r in rounds if not r[1]]
        rounds = sorted(set(picked) | set(failed[:MAX_POINTS]))
    limit = timedelta(seconds=3 * max(sample_interval(), 1.0))
    out: list[tuple[datetime, bool]] = []
    for at, ok in rounds:
        if out and at - out[-1][0] > max(limit, (rounds[-1][0] - rounds[0][0]) / MAX_POINTS * 3):
            # No round at all (sampler stopped): an empty point so lines do not bridge it.
            out.append((out[-1][0] + (at - out[-1][0]) / 2, False))
        out.append((at, ok))
    return out


def _rate(times: list[float], values: list[int | None]) -> list[float | None]:
    """Per-second increase between consecutive samples; None across a gap or a reset."""
    out: list[float | None] = [None]
    for i in range(1, len(values)):
        a, b = values[i - 1], values[i]
        dt = times[i] - times[i - 1]
        out.append((b - a) / dt if a is not None and b is not None and dt > 0 and b >= a else None)
    return out


@dataclass(frozen=True)
class _Frame:
    """The rounds a chart shows: their times, and a round's index by its time."""

    since: datetime
    rounds: list[tuple[datetime, bool]]
    index: dict[datetime, int]

    @classmethod
    def of(cls, *, cluster: str, minutes: int) -> _Frame:
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        rounds = _rounds(cluster=cluster, since=since)
        return cls(since, rounds, {at: i for i, (at, _) in enumerate(rounds)})

    def times(self) -> list[float]:
        return [at.timestamp() for at, _ in self.rounds]

    def ok(self) -> list[bool]:
        return [ok for _, ok in self.rounds]


def group_history(*, cluster: str, group: str, minutes: int) -> dict[str, Any]:
    """Chart series of a group: total and per-partition lag, consume rate and status per round."""
    frame = _Frame.of(cluster=cluster, minutes=minutes)
    since, index, n = frame.since, frame.index, len(frame.rounds)
    total: list[int | None] = [None] * n
    committed: list[int | None] = [None] * n
    statuses: list[str | None] = [None] * n
    per_partition: dict[str, list[int | None]] = {}
    for row in LagSample.objects.filter(cluster=cluster, group=group, at__gte=since).iterator():
        i = index.get(row.at)
        if i is None:
            continue  # a round thinned out of a long range
        total[i] = row.total_lag
        statuses[i] = row.status
        committed[i] = 0
        for p in row.partition_samples():
            committed[i] = (committed[i] or 0) + p.committed
            series = per_partition.setdefault(f"{p.topic}/{p.partition}", [None] * n)
            series[i] = p.lag
    times = frame.times()
    return {
        "cluster": cluster,
        "group": group,
        "minutes": minutes,
        "times": times,
        "ok": frame.ok(),
        "total_lag": total,
        "consume_rate": _rate(times, committed),
        "status": statuses,
        "partitions": dict(sorted(per_partition.items())),
    }


def topic_history(*, cluster: str, topic: str, minutes: int) -> dict[str, Any]:
    """Chart series of a topic: produce rate per round and each group's consume rate on it."""
    frame = _Frame.of(cluster=cluster, minutes=minutes)
    since, index, n = frame.since, frame.index, len(frame.rounds)
    ends: list[int | None] = [None] * n
    for at, total in TopicSample.objects.filter(
        cluster=cluster, topic=topic, at__gte=since
    ).values_list("at", "end_offsets"):
        if (i := index.get(at)) is not None:
            ends[i] = total
    by_group: dict[str, list[int | None]] = {}
    rows = LagSample.objects.filter(
        cluster=cluster, at__gte=since, topics__contains=f"|{topic}|"
    ).only("at", "group", "partitions")
    for row in rows.iterator():
        if (i := index.get(row.at)) is None:
            continue
        # LIKE ignores case in SQLite: keep only this exact topic's partitions.
        offsets = [p.committed for p in row.partition_samples() if p.topic == topic]
        if offsets:
            by_group.setdefault(row.group, [None] * n)[i] = sum(offsets)
    times = frame.times()
    return {
        "cluster": cluster,
        "topic": topic,
        "minutes": minutes,
        "times": times,
        "ok": frame.ok(),
        "produce_rate": _rate(times, ends),
        "consume_rate": {g: _rate(times, s) for g, s in sorted(by_group.items())},
    }


def group_events(*, cluster: str, group: str, limit: int = 50) -> list[GroupEvent]:
    """The group's most recent state, membership and status changes, newest first."""
    return list(GroupEvent.objects.filter(cluster=cluster, group=group)[:limit])
