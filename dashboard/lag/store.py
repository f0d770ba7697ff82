"""Lag history in the database: chunks written by the sampler, read by history, metrics, status.

A group's partitions and a topic's end offsets are stored as HistoryChunk rows, each many
rounds long (lag/codec.py encodes them). Raw chunks are kept for KAFKAVIEW_HISTORY_RAW,
then folded into the tiers (1 min buckets for a week, 10 min for 90 days by default):
folding is associative (last offsets, largest lag, worst status), so a bucket that spans
two fold passes merges into the same point.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from django.db.models import QuerySet

from dashboard.lag.codec import (
    EndsChunkEncoder,
    EndsRound,
    GroupChunkEncoder,
    GroupRound,
    PartitionSample,
    ends_chunks,
    ends_rounds,
    fold_ends,
    fold_group,
    group_chunks,
    group_rounds,
)
from dashboard.lag.conf import Tier
from dashboard.lag.models import HistoryChunk, SampleRound

# Rounds in a raw chunk: 10 min at the default 10 s. Longer chunks compress a little
# better, but the sampler rewrites its open chunk every round.
CHUNK_ROUNDS = 60
# Points in a folded chunk.
TIER_CHUNK_ROUNDS = 144

GROUP, ENDS = HistoryChunk.Kind.GROUP, HistoryChunk.Kind.ENDS


def dt(seconds: float) -> datetime:
    """Unix seconds as an aware datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def ms_now() -> datetime:
    """Now, to the millisecond (what chunks store), so a round's time reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def packed(p: PartitionSample) -> list[object]:
    """A partition sample as a JSON row (HistoryChunk.last)."""
    return [
        p.topic,
        p.partition,
        p.committed,
        p.end_offset,
        p.lag,
        p.last_commit_at,
        p.commits,
        p.lag_seconds_estimate,
        1 if p.lag_seconds_at_least else 0,
        p.status,
    ]


def unpacked(row: list) -> PartitionSample:
    """The inverse of packed()."""
    t, p, c, e, lag, commit, n, secs, least, status = row
    return PartitionSample(t, p, c, e, lag, commit, n, secs, bool(least), status)


def _pack(value: object) -> bytes:
    return zlib.compress(orjson.dumps(value), 1)


def _unpack(blob: bytes | memoryview) -> Any:
    return orjson.loads(zlib.decompress(bytes(blob)))


def _last_round(chunk: HistoryChunk) -> GroupRound:
    if chunk.last is not None:
        last = _unpack(chunk.last)
        return GroupRound(last["at"], last["status"], tuple(unpacked(r) for r in last["parts"]))
    return group_rounds(bytes(chunk.data))[-1]


@dataclass
class _Open:
    row: HistoryChunk
    encoder: GroupChunkEncoder | EndsChunkEncoder
    written: bool = False


class ChunkWriter:
    """The sampler's open chunks of one cluster: add a round's values, then write()."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._open: dict[tuple[str, str], _Open] = {}
        self._touched: list[_Open] = []
        self._had_last: set[int] = set()

    def start(self) -> None:
        """Forget what earlier processes left open: their chunks are closed, `last` cleared."""
        self._open.clear()
        HistoryChunk.objects.filter(cluster=self.cluster, last__isnull=False).update(last=None)

    def add_group(
        self, group: str, at: datetime, status: str, parts: list[PartitionSample]
    ) -> None:
        """The group's round, appended to its open chunk (or a new one)."""
        keys = tuple((p.topic, p.partition) for p in parts)
        opened = self._open.get((GROUP, group))
        enc = opened.encoder if opened else None
        if not isinstance(enc, GroupChunkEncoder) or enc.keys != keys or enc.rounds >= CHUNK_ROUNDS:
            enc = GroupChunkEncoder(start=at.timestamp(), keys=keys)
            row = HistoryChunk(
                cluster=self.cluster,
                kind=GROUP,
                key=group,
                start=at,
                topics="|" + "|".join(sorted({p.topic for p in parts})) + "|",
            )
            opened = self._open[(GROUP, group)] = _Open(row, enc)
        assert opened is not None
        enc.append(at.timestamp(), status, parts)
        opened.row.last = _pack(
            {"at": at.timestamp(), "status": status, "parts": [packed(p) for p in parts]}
        )
        self._touched.append(opened)

    def add_ends(self, topic: str, at: datetime, ends: dict[int, int]) -> None:
        """The topic's end offsets at this round, appended to its open chunk (or a new one)."""
        opened = self._open.get((ENDS, topic))
        enc = opened.encoder if opened else None
        partitions = tuple(sorted(ends))
        if (
            not isinstance(enc, EndsChunkEncoder)
            or enc.partitions != partitions
            or enc.rounds >= CHUNK_ROUNDS
        ):
            enc = EndsChunkEncoder(start=at.timestamp(), partitions=partitions)
            row = HistoryChunk(cluster=self.cluster, kind=ENDS, key=topic, start=at)
            opened = self._open[(ENDS, topic)] = _Open(row, enc)
        assert opened is not None
        enc.append(at.timestamp(), ends)
        opened.row.last = _pack(
            {"at": at.timestamp(), "ends": {str(p): e for p, e in ends.items()}}
        )
        self._touched.append(opened)

    def write(self, at: datetime) -> None:
        """Store this round's chunks (call inside the round's transaction)."""
        new: list[HistoryChunk] = []
        changed: list[HistoryChunk] = []
        for opened in self._touched:
            row = opened.row
            row.end, row.rounds, row.data = at, opened.encoder.rounds, opened.encoder.blob()
            (changed if opened.written else new).append(row)
        HistoryChunk.objects.bulk_create(new, batch_size=200)
        HistoryChunk.objects.bulk_update(changed, ["end", "rounds", "data", "last"], batch_size=100)
        for opened in self._touched:
            opened.written = True
        # Only the newest round keeps its plain JSON: chunks not in this round lose it.
        now_ids = {o.row.pk for o in self._touched}
        stale = self._had_last - now_ids
        if stale:
            HistoryChunk.objects.filter(pk__in=stale).update(last=None)
        self._had_last = now_ids
        # A group or topic missing from a round closes its chunk: if it comes back, a
        # new chunk starts (the old one may have been folded away by then).
        touched = {id(o) for o in self._touched}
        self._open = {k: o for k, o in self._open.items() if id(o) in touched}
        self._touched = []

    def forget_deleted(self) -> None:
        """Close open chunks whose rows are gone (folded or pruned), so none is written blind."""
        pks = [o.row.pk for o in self._open.values() if o.written]
        alive: set[int] = set()
        for i in range(0, len(pks), 5000):
            alive.update(
                HistoryChunk.objects.filter(pk__in=pks[i : i + 5000]).values_list("pk", flat=True)
            )
        self._open = {k: o for k, o in self._open.items() if not o.written or o.row.pk in alive}

    def discard(self) -> None:
        """Drop a round that was not written (its transaction rolled back)."""
        self._open.clear()
        self._touched = []


# --- reading ---------------------------------------------------------------------------


def _chunks(
    *,
    cluster: str,
    kind: str,
    tier: int,
    since: datetime,
    key: str | None = None,
    upto: bool = False,
) -> QuerySet[HistoryChunk]:
    # upto: the tier and the finer ones, which hold the more recent part of a range
    # (folding moves history, so the tiers never overlap in time).
    tiers = {"tier__lte": tier} if upto else {"tier": tier}
    rows = HistoryChunk.objects.filter(cluster=cluster, kind=kind, end__gte=since, **tiers)
    if key is not None:
        rows = rows.filter(key=key)
    return rows.order_by("start", "id")


R = TypeVar("R", GroupRound, EndsRound)


def _rounds(
    rows: QuerySet[HistoryChunk], decode: Callable[[bytes], list[R]], since: datetime
) -> Iterator[tuple[str, R]]:
    """(key, round) of every chunk's rounds at or after `since`, chunk by chunk."""
    start = since.timestamp()
    for key, data in rows.values_list("key", "data").iterator():
        for rnd in decode(bytes(data)):
            if rnd.at >= start:
                yield key, rnd


def group_history_rounds(
    *, cluster: str, group: str, since: datetime, tier: int = 0
) -> list[GroupRound]:
    """The group's rounds and points of the tiers up to `tier` since a time, oldest first."""
    rows = _chunks(cluster=cluster, kind=GROUP, tier=tier, since=since, key=group, upto=True)
    return sorted((r for _, r in _rounds(rows, group_rounds, since)), key=lambda r: r.at)


def topic_groups_rounds(
    *, cluster: str, topic: str, since: datetime, tier: int = 0
) -> Iterator[tuple[str, GroupRound]]:
    """(group, round) of every group with a committed offset on the topic (tiers up to `tier`)."""
    rows = _chunks(cluster=cluster, kind=GROUP, tier=tier, since=since, upto=True)
    return _rounds(rows.filter(topics__contains=f"|{topic}|"), group_rounds, since)


def groups_rounds(*, cluster: str, since: datetime) -> Iterator[tuple[str, GroupRound]]:
    """(group, round) of every group's raw rounds since a time, oldest chunk first."""
    return _rounds(_chunks(cluster=cluster, kind=GROUP, tier=0, since=since), group_rounds, since)


def topic_ends_rounds(
    *, cluster: str, topic: str, since: datetime, tier: int = 0
) -> list[EndsRound]:
    """The topic's end offsets per round and tier point (tiers up to `tier`), oldest first."""
    rows = _chunks(cluster=cluster, kind=ENDS, tier=tier, since=since, key=topic, upto=True)
    return sorted((r for _, r in _rounds(rows, ends_rounds, since)), key=lambda r: r.at)


def ends_since(*, cluster: str, since: datetime) -> Iterator[tuple[str, EndsRound]]:
    """(topic, round) of every topic's raw end offsets since a time."""
    return _rounds(_chunks(cluster=cluster, kind=ENDS, tier=0, since=since), ends_rounds, since)


def latest_groups(*, cluster: str, at: datetime) -> dict[str, GroupRound]:
    """Every group sampled at the round `at`, from the chunks' plain-JSON newest round."""
    rows = HistoryChunk.objects.filter(cluster=cluster, kind=GROUP, tier=0, end=at)
    return {row.key: _last_round(row) for row in rows.defer("data").iterator()}


def latest_group(*, cluster: str, group: str) -> GroupRound | None:
    """The group's newest sampled round."""
    row = (
        HistoryChunk.objects.filter(cluster=cluster, kind=GROUP, tier=0, key=group)
        .order_by("-end")
        .first()
    )
    return _last_round(row) if row is not None else None


def latest_ends(*, cluster: str, at: datetime) -> dict[tuple[str, int], int]:
    """End offsets of every partition at the round `at`."""
    out: dict[tuple[str, int], int] = {}
    rows = HistoryChunk.objects.filter(cluster=cluster, kind=ENDS, tier=0, end=at)
    for row in rows.iterator():
        if row.last is not None:
            ends = {int(p): e for p, e in _unpack(row.last)["ends"].items()}
        else:
            ends = ends_rounds(bytes(row.data))[-1].ends
        out.update({(row.key, p): e for p, e in ends.items()})
    return out


def end_points_around(
    *, cluster: str, topic: str, partition: int, offset: int
) -> list[tuple[float, int]]:
    """The stored (time, end offset) points just at or below `offset` and just above it.

    Looks back chunk by chunk from the newest (raw first, then the tiers) and stops at the
    first point whose end offset is at or below `offset`.
    """
    above: tuple[float, int] | None = None
    for tier in sorted(set(_tiers_with(cluster, topic))):
        rows = HistoryChunk.objects.filter(cluster=cluster, kind=ENDS, tier=tier, key=topic)
        for data in rows.order_by("-end").values_list("data", flat=True).iterator():
            for rnd in reversed(ends_rounds(bytes(data))):
                end = rnd.ends.get(partition)
                if end is None:
                    continue
                if end <= offset:
                    return [(rnd.at, end)] + ([above] if above else [])
                above = (rnd.at, end)
    return [above] if above else []


def _tiers_with(cluster: str, topic: str) -> Iterable[int]:
    return (
        HistoryChunk.objects.filter(cluster=cluster, kind=ENDS, key=topic)
        .values_list("tier", flat=True)
        .distinct()
    )


# --- folding and pruning ---------------------------------------------------------------


def _bucket(at: float, size: float) -> float:
    return at // size * size


def _fold_rounds(*, cluster: str, source: int, target: Tier, cutoff: datetime) -> int:
    """SampleRound rows of a tier before the cutoff, as one row per bucket of the next."""
    rows = list(
        SampleRound.objects.filter(cluster=cluster, tier=source, at__lt=cutoff).order_by("at")
    )
    if not rows:
        return 0
    buckets: dict[float, list[SampleRound]] = defaultdict(list)
    for row in rows:
        buckets[_bucket(row.at.timestamp(), target.bucket)].append(row)
    existing = {
        r.at.timestamp(): r
        for r in SampleRound.objects.filter(
            cluster=cluster, tier=target.number, at__in=[dt(b) for b in buckets]
        )
    }
    for at, bucket in buckets.items():
        merged = existing.get(at)
        members = [merged, *bucket] if merged is not None else bucket
        ok = all(m.ok for m in members)
        errors = [m.error for m in members if m.error]
        SampleRound.objects.update_or_create(
            cluster=cluster,
            tier=target.number,
            at=dt(at),
            defaults={
                "ok": ok,
                "error": errors[-1] if errors else "",
                "duration_ms": max(m.duration_ms for m in members),
                "groups": max(m.groups for m in members),
                "partitions": max(m.partitions for m in members),
            },
        )
    SampleRound.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def _fold_chunks(*, cluster: str, kind: str, source: int, target: Tier, cutoff: datetime) -> int:
    """Chunks of a tier that ended before the cutoff, folded into the next tier's buckets."""
    rows = list(
        HistoryChunk.objects.filter(cluster=cluster, kind=kind, tier=source, end__lt=cutoff)
        .order_by("key", "start", "id")
        .only("id", "key", "data", "topics")
    )
    by_key: dict[str, list[HistoryChunk]] = defaultdict(list)
    for row in rows:
        by_key[row.key].append(row)
    decode = group_rounds if kind == GROUP else ends_rounds
    fold = fold_group if kind == GROUP else fold_ends
    for key, chunks in by_key.items():
        buckets: dict[float, list] = defaultdict(list)
        for chunk in chunks:
            for rnd in decode(bytes(chunk.data)):
                buckets[_bucket(rnd.at, target.bucket)].append(rnd)
        # The target's newest chunk: its last bucket may be the first one folded now.
        newest = (
            HistoryChunk.objects.filter(cluster=cluster, kind=kind, tier=target.number, key=key)
            .order_by("-end")
            .first()
        )
        points: list = decode(bytes(newest.data)) if newest is not None else []
        merge = bool(points) and points[-1].at in buckets
        if merge:
            buckets[points[-1].at].insert(0, points.pop())
        if newest is not None and not merge and newest.rounds >= TIER_CHUNK_ROUNDS:
            points = []  # full and untouched: it stays as it is
        elif newest is not None:
            newest.delete()  # rewritten below with the new points
        points.extend(fold(members, at) for at, members in sorted(buckets.items()))
        points.sort(key=lambda p: p.at)
        blobs = (
            group_chunks(points, TIER_CHUNK_ROUNDS)
            if kind == GROUP
            else ends_chunks(points, TIER_CHUNK_ROUNDS)
        )
        HistoryChunk.objects.bulk_create(
            [_chunk_row(cluster, kind, key, target.number, blob) for blob in blobs]
        )
    HistoryChunk.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def _chunk_row(cluster: str, kind: str, key: str, tier: int, blob: bytes) -> HistoryChunk:
    if kind == GROUP:
        rounds: list = group_rounds(blob)
        topics = {p.topic for r in rounds for p in r.partitions}
        topic_text = "|" + "|".join(sorted(topics)) + "|"
    else:
        rounds, topic_text = ends_rounds(blob), ""
    return HistoryChunk(
        cluster=cluster,
        kind=kind,
        key=key,
        tier=tier,
        start=dt(rounds[0].at),
        end=dt(rounds[-1].at),
        rounds=len(rounds),
        topics=topic_text,
        data=blob,
    )


def fold(*, cluster: str, now: datetime, raw: timedelta, tiers: list[Tier]) -> int:
    """Fold raw history older than `raw` into tier 1, tier 1 older than its keep into 2, ..."""
    folded, keep = 0, raw
    for source, target in enumerate(tiers):
        cutoff = now - keep
        for kind in (GROUP, ENDS):
            folded += _fold_chunks(
                cluster=cluster, kind=kind, source=source, target=target, cutoff=cutoff
            )
        folded += _fold_rounds(cluster=cluster, source=source, target=target, cutoff=cutoff)
        keep = target.keep
    return folded


def prune(*, cluster: str, now: datetime, keep: timedelta, tiers: list[Tier]) -> int:
    """Delete history past its tier's keep (and anything older than `keep`)."""
    deleted = 0
    limits = [(t.number, min(t.keep, keep)) for t in tiers] or [(0, keep)]
    for tier, kept in limits:
        for model, field in ((HistoryChunk, "end"), (SampleRound, "at")):
            count, _ = model.objects.filter(
                cluster=cluster, tier=tier, **{f"{field}__lt": now - kept}
            ).delete()
            deleted += count
    for model, field in ((HistoryChunk, "end"), (SampleRound, "at")):
        count, _ = model.objects.filter(cluster=cluster, **{f"{field}__lt": now - keep}).delete()
        deleted += count
    return deleted
