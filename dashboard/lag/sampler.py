"""The lag sampler: every N seconds, each cluster's groups, offsets and members into the database.

One `Sampler` per cluster. A round reads the cluster once (kafka.sampling), takes
the commit times the CommitWatcher read from `__consumer_offsets`, judges every
partition with Burrow's rules over its window of samples (lag/rules.py), estimates
lag in seconds from the end-offset history, records state and membership changes
as events, and prunes what is older than the retention. A round that cannot read
the cluster stores a failed SampleRound and nothing else: a gap, never a guess.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from dashboard.kafka.errors import KafkaViewError
from dashboard.kafka.groups.commitlog import CommitState, CommitWatcher
from dashboard.kafka.groups.sampling import ClusterSample, GroupSample, cluster_sample
from dashboard.lag import store
from dashboard.lag.codec import PartitionSample
from dashboard.lag.conf import (
    POINT_KEEPALIVE_SECONDS,
    Tier,
    raw_keep,
    retention,
    sample_interval,
    status_window,
    tiers,
)
from dashboard.lag.events import event_topic, members_json, membership_events
from dashboard.lag.models import GroupEvent, GroupState, SampleRound
from dashboard.lag.rules import (
    LagEstimate,
    Status,
    WindowPoint,
    group_status,
    lag_seconds_estimate,
    partition_status,
)

log = logging.getLogger("kafkaview.sampler")

# End-offset points kept in memory per partition; older ones are read from the database.
POINTS_IN_MEMORY = 360
PRUNE_EVERY_SECONDS = 60.0

Key = tuple[str, int]
GroupKey = tuple[str, str, int]


@dataclass(frozen=True)
class RoundResult:
    """What a round did: whether the cluster answered, and how much it stored."""

    cluster: str
    at: datetime
    ok: bool
    error: str
    samples: int
    events: int
    statuses: dict[str, str]  # group -> status of this round
    # What alert rules judge (dashboard/alerts): per group and per topic, this round.
    groups: dict[str, GroupObserved] = field(default_factory=dict)
    topics: dict[str, TopicObserved] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupObserved:
    """A group's numbers of the round, for alert rules."""

    type: str
    status: str
    lag: int
    lag_seconds: float | None  # the largest partition estimate
    members: int


@dataclass(frozen=True)
class TopicObserved:
    """A topic's numbers of the round, for alert rules."""

    end_offsets: int  # the sum over its partitions: unchanged means no new records
    under_replicated: int
    offline: int


class Sampler:
    """Samples one cluster: call start(), then round() every interval, then stop()."""

    def __init__(
        self,
        *,
        cluster: str,
        interval: float | None = None,
        window: int | None = None,
        keep: timedelta | None = None,
        raw: timedelta | None = None,
        tier_list: list[Tier] | None = None,
        watcher: CommitWatcher | None = None,
        clock: Callable[[], datetime] = store.ms_now,
    ) -> None:
        self.cluster = cluster
        # Round times, prune cut-offs and reload windows all come from this clock, so a
        # test can step time itself instead of sleeping and hoping the machine keeps up.
        self.clock = clock
        self.interval = interval if interval is not None else sample_interval()
        self.window = window if window is not None else status_window()
        self.keep = keep if keep is not None else retention()
        # Raw samples outlive the status window's reload (start() reads two windows back).
        self.raw = max(
            raw if raw is not None else raw_keep(),
            timedelta(seconds=self.interval * self.window * 2),
        )
        self.tiers = tier_list if tier_list is not None else tiers()
        self.writer = store.ChunkWriter(cluster)
        self.watcher = watcher or CommitWatcher(cluster=cluster)
        self.stop_after = self.interval * max(self.window - 1, 1)
        self._windows: dict[GroupKey, deque[WindowPoint]] = {}
        # (offset, first time seen): a changed committed offset proves a commit in between.
        self._offset_seen: dict[GroupKey, tuple[int, float | None]] = {}
        self._points: dict[Key, deque[tuple[float, int]]] = {}
        self._pruned_at: datetime | None = None
        self._was_ok: bool | None = None
        # Partitions whose stored points may reach further back than memory does.
        self._older_in_db: set[Key] = set()
        self._states: dict[str, GroupState] = {}
        self.errors = 0  # rounds that failed on something other than the cluster

    def start(self) -> None:
        """Start reading commits and load the recent windows, so a restart keeps its verdicts."""
        self.watcher.start()
        # Verdicts need the last commit times: read the existing commits first (bounded).
        self.watcher.wait_for(lambda: self.watcher.caught_up, timeout=15.0)
        self.writer.start()
        since = self.clock() - timedelta(seconds=self.interval * self.window * 2)
        for group, rnd in store.groups_rounds(cluster=self.cluster, since=since):
            for p in rnd.partitions:
                key = (group, p.topic, p.partition)
                self._window(key).append(WindowPoint(rnd.at, p.committed, p.lag, p.last_commit_at))
                seen = self._offset_seen.get(key)
                if seen is None or seen[0] != p.committed:
                    # Known from history: when it first appeared is not a commit we saw happen.
                    self._offset_seen[key] = (
                        p.committed,
                        None if seen is None else p.last_commit_at,
                    )

        # The end-offset history of the last hour, so lag seconds survive a restart.
        since = self.clock() - timedelta(seconds=self.interval * POINTS_IN_MEMORY)
        for topic, ends in sorted(
            store.ends_since(cluster=self.cluster, since=since), key=lambda te: te[1].at
        ):
            for partition, end in ends.ends.items():
                point_key = (topic, partition)
                points = self._points_deque(point_key)
                if not points or points[-1][1] != end or ends.at - points[-1][0] >= 300:
                    points.append((ends.at, end))
                self._older_in_db.add(point_key)
        self._states = {s.group: s for s in GroupState.objects.filter(cluster=self.cluster)}

    def _points_deque(self, key: Key) -> deque[tuple[float, int]]:
        points = self._points.get(key)
        if points is None:
            points = self._points[key] = deque(maxlen=POINTS_IN_MEMORY)
        return points

    def stop(self) -> None:
        """Stop the commit reader."""
        self.watcher.stop()

    def _window(self, key: GroupKey) -> deque[WindowPoint]:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque(maxlen=self.window)
        return window

    def round(self) -> RoundResult:
        """Sample the cluster once and store the result (or the outage); never raises.

        A round is one of thousands: whatever it throws (a cluster that does not answer,
        a broker answering nonsense while it recovers, a bug) is logged, counted as a
        failed round and the sampler goes on. Only KeyboardInterrupt ends it.
        """
        started = time.monotonic()
        at = self.clock()
        try:
            return self._round(at=at, started=started)
        except KafkaViewError as exc:
            self.writer.discard()
            if self._was_ok is not False:
                log.warning(
                    "cluster %s unavailable, no samples until it answers: %s", self.cluster, exc
                )
            self._was_ok = False
            return self._failed(at=at, started=started, error=str(exc))
        except Exception as exc:
            self.writer.discard()  # its chunks may hold a round that was rolled back
            self.errors += 1
            log.exception("sampler round on %s failed; going on", self.cluster)
            return self._failed(at=at, started=started, error=f"internal error: {exc!r}"[:2000])

    def _failed(self, *, at: datetime, started: float, error: str) -> RoundResult:
        """Record a round that stored no samples (a gap in the history, never a guess)."""
        try:
            SampleRound.objects.create(
                cluster=self.cluster,
                at=at,
                ok=False,
                error=error,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        except Exception:  # the database itself failed: the log is all that is left
            log.exception("could not record the failed round of %s", self.cluster)
        return RoundResult(self.cluster, at, False, error, 0, 0, {})

    def _round(self, *, at: datetime, started: float) -> RoundResult:
        if self.watcher.died:
            # Its thread ended (it should not): start a new reader rather than go on blind.
            log.warning("commit reader of %s had stopped; starting a new one", self.cluster)
            self.watcher = CommitWatcher(cluster=self.cluster)
            self.watcher.start()
        sample = cluster_sample(cluster=self.cluster)
        if self._was_ok is False:
            log.warning(
                "cluster %s answers again; the outage is a gap in the history", self.cluster
            )
        self._was_ok = True
        with transaction.atomic():  # the round and its samples, or neither
            result = self._store(sample, at=at, commits=self.watcher.snapshot())
            SampleRound.objects.create(
                cluster=self.cluster,
                at=at,
                ok=True,
                duration_ms=int((time.monotonic() - started) * 1000),
                groups=len(sample.groups),
                partitions=len(sample.ends),
            )
        if self._pruned_at is None or (at - self._pruned_at).total_seconds() > PRUNE_EVERY_SECONDS:
            self.prune(now=at)
        return result

    def _points_store(self, sample: ClusterSample, now: float, at: datetime) -> None:
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        for key, end in sample.ends.items():
            by_topic[key[0]][key[1]] = end
            points = self._points_deque(key)
            if len(points) == POINTS_IN_MEMORY:
                self._older_in_db.add(key)  # the oldest point is about to leave memory
            if not points or points[-1][1] != end or now - points[-1][0] >= POINT_KEEPALIVE_SECONDS:
                points.append((now, end))
        for topic, ends in sorted(by_topic.items()):
            self.writer.add_ends(topic, at, ends)

    def lag_seconds_estimate(
        self, key: Key, *, committed: int, end: int, now: float
    ) -> LagEstimate | None:
        """Estimated lag in seconds of a committed offset, from memory or the stored points."""
        points = list(self._points.get(key, ()))
        # Only when memory may not hold the partition's whole history: two indexed queries.
        if points and committed < points[0][1] and key in self._older_in_db:
            # Older than what memory holds: the two stored points around the offset.
            older = store.end_points_around(
                cluster=self.cluster, topic=key[0], partition=key[1], offset=committed
            )
            if older:
                newest = max(t for t, _ in older)
                points = sorted(set(older)) + [p for p in points if p[0] > newest]
        return lag_seconds_estimate(points, committed=committed, end=end, now=now)

    @transaction.atomic
    def _store(
        self, sample: ClusterSample, *, at: datetime, commits: dict[GroupKey, CommitState]
    ) -> RoundResult:
        now = at.timestamp()
        self._points_store(sample, now, at)
        statuses: dict[str, str] = {}
        observed: dict[str, GroupObserved] = {}
        events = samples = 0
        for group in sample.groups:
            partition_statuses = []
            parts: list[PartitionSample] = []
            for (topic, partition), committed in sorted(group.committed.items()):
                end = sample.ends.get((topic, partition))
                if end is None:
                    continue
                key = (group.group, topic, partition)
                last_commit = self._last_commit(key, committed, commits.get(key), now)
                window = self._window(key)
                lag = max(end - committed, 0)
                if group.lags is not None and (topic, partition) in group.lags:
                    lag = group.lags[(topic, partition)]
                window.append(WindowPoint(now, committed, lag, last_commit))
                status = partition_status(list(window), now=now, stop_after=self.stop_after)
                partition_statuses.append(status)
                estimate = self.lag_seconds_estimate(
                    (topic, partition), committed=committed, end=end, now=now
                )
                state = commits.get(key)
                parts.append(
                    PartitionSample(
                        topic=topic,
                        partition=partition,
                        committed=committed,
                        end_offset=end,
                        lag=lag,
                        # Rounded as stored (ms, 0.1 s): what is judged is what reads back.
                        last_commit_at=None if last_commit is None else round(last_commit, 3),
                        commits=state.commits if state else 0,
                        lag_seconds_estimate=round(estimate.seconds, 1) if estimate else None,
                        lag_seconds_at_least=bool(estimate and estimate.at_least),
                        status=status.name if status is not None else "",
                    )
                )
            overall = group_status(partition_statuses)
            statuses[group.group] = overall.name if overall is not None else ""
            estimates = [p.lag_seconds_estimate for p in parts if p.lag_seconds_estimate]
            observed[group.group] = GroupObserved(
                type=group.type,
                status=statuses[group.group],
                lag=sum(p.lag for p in parts),
                lag_seconds=max(estimates, default=None if not parts else 0.0),
                members=len(group.members),
            )
            events += self._group_state(group, overall, at)
            if parts:
                samples += len(parts)
                self.writer.add_group(group.group, at, statuses[group.group], parts)
        self.writer.write(at)
        ends: dict[str, int] = defaultdict(int)
        for (topic, _), end in sample.ends.items():
            ends[topic] += end
        topics = {
            t: TopicObserved(
                end_offsets=n,
                under_replicated=sample.under_replicated.get(t, 0),
                offline=sample.offline.get(t, 0),
            )
            for t, n in ends.items()
        }
        return RoundResult(self.cluster, at, True, "", samples, events, statuses, observed, topics)

    def _last_commit(
        self, key: GroupKey, committed: int, state: CommitState | None, now: float
    ) -> float | None:
        seen = self._offset_seen.get(key)
        if seen is None or seen[0] != committed:
            # The offset moved since the last round (or this is the first): a commit
            # happened by now; when exactly, only __consumer_offsets can say.
            seen = (committed, now if seen is not None else None)
            self._offset_seen[key] = seen
        times = [seen[1]] if seen[1] is not None else []
        # The watcher's commit counts only when it is for this offset; otherwise the
        # commit that put the offset here has not been read yet (it is newer).
        if state is not None and state.offset == committed and state.commit_timestamp_ms:
            times.append(state.commit_timestamp_ms / 1000)
        return max(times) if times else None

    def _group_state(self, group: GroupSample, overall: Status | None, at: datetime) -> int:
        members = members_json(group.members)
        status = overall.name if overall is not None else ""
        row = self._states.get(group.group)
        if row is None:
            # Not loaded by start() (or a group new since): look once, then keep it in memory.
            row = GroupState.objects.filter(cluster=self.cluster, group=group.group).first()
            if row is not None:
                self._states[group.group] = row
        if row is None:
            self._states[group.group] = GroupState.objects.create(
                cluster=self.cluster,
                group=group.group,
                state=group.state,
                type=group.type,
                members=members,
                status=status,
                updated_at=at,
            )
            GroupEvent.objects.create(
                cluster=self.cluster,
                group=group.group,
                at=at,
                kind=GroupEvent.Kind.STATE,
                text=f"first seen by the sampler: {group.state}, {len(members)} member(s)",
            )
            return 1
        changes = membership_events(
            before_state=row.state, before=row.members, after_state=group.state, after=members
        )
        if status and row.status and status != row.status:
            changes.append((GroupEvent.Kind.STATUS, f"status {row.status} → {status}"))
        GroupEvent.objects.bulk_create(
            [
                GroupEvent(
                    cluster=self.cluster,
                    group=group.group,
                    at=at,
                    kind=k,
                    text=t,
                    topic=event_topic(k, t),
                )
                for k, t in changes
            ]
        )
        if changes or (status and status != row.status) or row.type != group.type:
            # Written on change only: thousands of unchanged groups cost no query.
            row.state, row.members, row.updated_at = group.state, members, at
            row.type = group.type
            row.status = status or row.status
            row.save()
        return len(changes)

    def prune(self, *, now: datetime | None = None) -> int:
        """Fold raw history into the tiers, delete what is past its keep; returns rows touched."""
        now = now or self.clock()
        self._pruned_at = now
        with transaction.atomic():
            touched = store.fold(cluster=self.cluster, now=now, raw=self.raw, tiers=self.tiers)
            touched += store.prune(cluster=self.cluster, now=now, keep=self.keep, tiers=self.tiers)
            count, _ = GroupEvent.objects.filter(
                cluster=self.cluster, at__lt=now - self.keep
            ).delete()
        self.writer.forget_deleted()
        return touched + count
