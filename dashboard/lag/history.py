"""Reading the sampler's history: latest verdicts, chart series and events (database only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.lag import store
from dashboard.lag.codec import PartitionSample
from dashboard.lag.conf import raw_keep, sample_interval, tiers
from dashboard.lag.lease import lease_state
from dashboard.lag.models import GroupEvent, SampleRound
from dashboard.lag.rules import Status, group_status
from dashboard.web.jsonutil import to_json

# A chart never carries more points than this; longer ranges are thinned evenly.
MAX_POINTS = 720
RANGES = {"15m": 15, "1h": 60, "6h": 360, "24h": 1440, "7d": 10080, "30d": 43200, "90d": 129600}
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
    return SampleRound.objects.filter(cluster=cluster, tier=0).order_by("-at").first()


def last_ok_round(*, cluster: str) -> SampleRound | None:
    """The most recent round that read the cluster."""
    return SampleRound.objects.filter(cluster=cluster, tier=0, ok=True).order_by("-at").first()


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
    rnd = store.latest_group(cluster=cluster, group=group)
    if rnd is None:
        return {}
    at = store.dt(rnd.at)
    return {(p.topic, p.partition): _health(p, at) for p in rnd.partitions}


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
    for group, rnd in store.latest_groups(cluster=cluster, at=round_.at).items():
        timed = [p for p in rnd.partitions if p.lag_seconds_estimate is not None]
        top = max(timed, key=lambda p: p.lag_seconds_estimate or 0.0, default=None)
        out[group] = GroupHealth(
            status=rnd.status,
            lag_seconds_estimate=top.lag_seconds_estimate if top else None,
            lag_seconds_at_least=bool(top and top.lag_seconds_at_least),
            at=round_.at,
        )
    return out


def range_minutes(value: str | None) -> tuple[str, int]:
    """A chart range name (15m ... 90d) and its minutes; the default when unknown."""
    name = value if value in RANGES else DEFAULT_RANGE
    return name, RANGES[name]


def tier_for(minutes: int) -> tuple[int, float]:
    """The finest tier that holds a range: (tier number, seconds between its points)."""
    if timedelta(minutes=minutes) <= raw_keep():
        return 0, sample_interval()
    for tier in tiers():
        if timedelta(minutes=minutes) <= tier.keep:
            return tier.number, tier.bucket
    last = tiers()[-1]
    return last.number, last.bucket


def _rounds(
    *, cluster: str, since: datetime, tier: int, step: float
) -> list[tuple[datetime, bool]]:
    """Rounds and buckets of the tiers up to `tier` since a time; a pause becomes a gap point."""
    rounds = list(
        SampleRound.objects.filter(cluster=cluster, tier__lte=tier, at__gte=since)
        .order_by("at")
        .values_list("at", "ok")
    )
    if len(rounds) > MAX_POINTS:
        step_n = len(rounds) / MAX_POINTS
        picked = [rounds[int(i * step_n)] for i in range(MAX_POINTS)]
        # Keep failed rounds: they are the gaps the chart must show.
        failed = [r for r in rounds if not r[1]]
        rounds = sorted(set(picked) | set(failed[:MAX_POINTS]))
    limit = timedelta(seconds=3 * max(step, 1.0))
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


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(frozen=True)
class _Frame:
    """The rounds (or tier buckets) a chart shows: their times, and an index by time in ms.

    A range longer than the raw samples are kept shows a tier's buckets for its older
    part and the finer tiers (down to the raw rounds) for the recent part. A bucket in
    which any round failed is not ok; its values are left out, so a failed round is a
    gap in every tier.
    """

    since: datetime
    tier: int
    rounds: list[tuple[datetime, bool]]
    index: dict[int, int]

    @classmethod
    def of(cls, *, cluster: str, minutes: int) -> _Frame:
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        tier, step = tier_for(minutes)
        rounds = _rounds(cluster=cluster, since=since, tier=tier, step=step)
        index = {_ms(at.timestamp()): i for i, (at, ok) in enumerate(rounds) if ok}
        return cls(since, tier, rounds, index)

    def at(self, seconds: float) -> int | None:
        return self.index.get(_ms(seconds))

    def times(self) -> list[float]:
        return [at.timestamp() for at, _ in self.rounds]

    def ok(self) -> list[bool]:
        return [ok for _, ok in self.rounds]


def group_history(*, cluster: str, group: str, minutes: int) -> dict[str, Any]:
    """Chart series of a group: total and per-partition lag, consume rate and status per round."""
    frame = _Frame.of(cluster=cluster, minutes=minutes)
    n = len(frame.rounds)
    total: list[int | None] = [None] * n
    committed: list[int | None] = [None] * n
    statuses: list[str | None] = [None] * n
    per_partition: dict[str, list[int | None]] = {}
    for rnd in store.group_history_rounds(
        cluster=cluster, group=group, since=frame.since, tier=frame.tier
    ):
        i = frame.at(rnd.at)
        if i is None:
            continue  # a round thinned out of a long range, or a bucket with a failed round
        total[i] = rnd.total_lag
        statuses[i] = rnd.status
        committed[i] = sum(p.committed for p in rnd.partitions)
        for p in rnd.partitions:
            series = per_partition.setdefault(f"{p.topic}/{p.partition}", [None] * n)
            series[i] = p.lag
    times = frame.times()
    return {
        "cluster": cluster,
        "group": group,
        "minutes": minutes,
        "tier": frame.tier,
        "times": times,
        "ok": frame.ok(),
        # Which lag the series are: to the log end (high watermark), as read_uncommitted
        # and kafka-consumer-groups count it, markers included (see the group page for
        # what a read_committed consumer can read).
        "lag_to": "log_end_offset",
        "total_lag": total,
        "consume_rate": _rate(times, committed),
        "status": statuses,
        "partitions": dict(sorted(per_partition.items())),
    }


def topic_history(*, cluster: str, topic: str, minutes: int) -> dict[str, Any]:
    """Chart series of a topic: produce rate per round and each group's consume rate on it."""
    frame = _Frame.of(cluster=cluster, minutes=minutes)
    n = len(frame.rounds)
    ends: list[int | None] = [None] * n
    for point in store.topic_ends_rounds(
        cluster=cluster, topic=topic, since=frame.since, tier=frame.tier
    ):
        if (i := frame.at(point.at)) is not None:
            ends[i] = sum(point.ends.values())
    by_group: dict[str, list[int | None]] = {}
    for group, rnd in store.topic_groups_rounds(
        cluster=cluster, topic=topic, since=frame.since, tier=frame.tier
    ):
        if (i := frame.at(rnd.at)) is None:
            continue
        # LIKE ignores case in SQLite: keep only this exact topic's partitions.
        offsets = [p.committed for p in rnd.partitions if p.topic == topic]
        if offsets:
            by_group.setdefault(group, [None] * n)[i] = sum(offsets)
    times = frame.times()
    return {
        "cluster": cluster,
        "topic": topic,
        "minutes": minutes,
        "tier": frame.tier,
        "times": times,
        "ok": frame.ok(),
        "produce_rate": _rate(times, ends),
        "consume_rate": {g: _rate(times, s) for g, s in sorted(by_group.items())},
    }


def group_events(
    *,
    cluster: str,
    group: str,
    limit: int = 50,
    visible_topic: Callable[[str], bool] | None = None,
) -> list[GroupEvent]:
    """The group's most recent state, membership and status changes, newest first.

    With visible_topic, moves on hidden topics are left out; a move recorded before
    events named their topic says only that partitions moved (it may name hidden ones).
    """
    events = list(GroupEvent.objects.filter(cluster=cluster, group=group)[:limit])
    if visible_topic is None:
        return events
    kept = []
    for event in events:
        if event.kind == GroupEvent.Kind.MOVED:
            if not event.topic:
                event.text = "partitions moved (the details may name topics you cannot see)"
            elif not visible_topic(event.topic):
                continue
        kept.append(event)
    return kept
