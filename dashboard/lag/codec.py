"""Compact lag history: many rounds of one group (or one topic's end offsets) in one blob.

Pure code, no database. Consecutive rounds differ little (offsets move by tens or
hundreds, statuses rarely change), so a chunk stores each value as the difference from
the same partition's value in the previous round (zigzag varints), one column per
field within a round, and deflates the whole chunk. Every value round-trips exactly:
the values the sampler judged are the values read back (table tests in test_codec.py).

A chunk's partitions are fixed (its header); a group whose partitions change starts a
new chunk. The first round of a chunk is its keyframe (differences from 0), so a chunk
decodes on its own.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import orjson

VERSION = 1
# Statuses as one byte each (with the lag-seconds "at least" flag in the low bit).
STATUSES = ("", "OK", "WARN", "REWIND", "STALL", "STOP")
_STATUS_CODE = {name: i for i, name in enumerate(STATUSES)}

Key = tuple[str, int]


@dataclass(frozen=True)
class PartitionSample:
    """One partition of a group at a round: the group's position and the verdict then."""

    topic: str
    partition: int
    committed: int
    end_offset: int
    lag: int
    last_commit_at: float | None  # Unix seconds, ms precision
    commits: int
    lag_seconds_estimate: float | None  # interpolated from the sampled end offsets, 0.1 s
    lag_seconds_at_least: bool
    status: str


@dataclass(frozen=True)
class GroupRound:
    """A group at one round (or one folded bucket): its verdict and every partition."""

    at: float  # Unix seconds, ms precision
    status: str
    partitions: tuple[PartitionSample, ...]

    @property
    def total_lag(self) -> int:
        """Sum of the partition lags."""
        return sum(p.lag for p in self.partitions)


@dataclass(frozen=True)
class EndsRound:
    """A topic's end offsets at one round (or folded bucket), by partition."""

    at: float
    ends: dict[int, int]


def _zz(n: int) -> int:
    return (n << 1) if n >= 0 else ((-n << 1) - 1)


def _unzz(n: int) -> int:
    return (n >> 1) if not n & 1 else -((n + 1) >> 1)


def _put(out: bytearray, n: int) -> None:
    """Unsigned LEB128."""
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def uint(self) -> int:
        data, pos, shift, n = self.data, self.pos, 0, 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                self.pos = pos
                return n
            shift += 7

    def sint(self) -> int:
        return _unzz(self.uint())


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _opt(value: int | None, prev: int) -> int:
    """0 for None, else the zigzagged difference plus one."""
    return 0 if value is None else _zz(value - prev) + 1


class GroupChunkEncoder:
    """Appends a group's rounds; blob() is the whole chunk so far, ready to store."""

    def __init__(self, *, start: float, keys: Sequence[Key]) -> None:
        self.start_ms = _ms(start)
        self.keys = tuple(keys)
        self.rounds = 0
        self._body = bytearray()
        n = len(self.keys)
        # Previous values per partition: committed, end, last commit ms, commits, estimate ds.
        self._prev = [[0] * n for _ in range(5)]
        self._prev_ms = self.start_ms

    def append(self, at: float, status: str, parts: Sequence[PartitionSample]) -> None:
        """Add a round; its partitions must be the chunk's keys, in order."""
        if tuple((p.topic, p.partition) for p in parts) != self.keys:
            raise ValueError("a round's partitions differ from its chunk's")
        out = self._body
        at_ms = _ms(at)
        _put(out, at_ms - self._prev_ms)  # rounds are in time order
        self._prev_ms = at_ms
        out.append(_STATUS_CODE[status])
        committed, end, commit_ms, commits, estimate = self._prev
        for i, p in enumerate(parts):
            _put(out, _zz(p.committed - committed[i]))
            committed[i] = p.committed
        for i, p in enumerate(parts):
            _put(out, _zz(p.end_offset - end[i]))
            end[i] = p.end_offset
        for p in parts:
            # Lag is the end minus the committed offset except for share groups and the like.
            _put(out, _zz(p.lag - max(p.end_offset - p.committed, 0)))
        for i, p in enumerate(parts):
            ms = None if p.last_commit_at is None else _ms(p.last_commit_at)
            _put(out, _opt(ms, commit_ms[i]))
            if ms is not None:
                commit_ms[i] = ms
        for i, p in enumerate(parts):
            _put(out, _zz(p.commits - commits[i]))
            commits[i] = p.commits
        for i, p in enumerate(parts):
            ds = None if p.lag_seconds_estimate is None else round(p.lag_seconds_estimate * 10)
            _put(out, _opt(ds, estimate[i]))
            if ds is not None:
                estimate[i] = ds
        for p in parts:
            out.append(_STATUS_CODE[p.status] << 1 | int(p.lag_seconds_at_least))
        self.rounds += 1

    def blob(self) -> bytes:
        """The chunk: a version byte, then the deflated header and rounds."""
        return _blob({"start_ms": self.start_ms, "keys": self.keys}, self.rounds, self._body)


def _blob(header: dict[str, object], rounds: int, body: bytearray) -> bytes:
    """A version byte, then deflated: the header's length and JSON, the round count, the body."""
    head = orjson.dumps(header)
    raw = bytearray()
    _put(raw, len(head))
    raw += head
    _put(raw, rounds)
    raw += body
    return bytes([VERSION]) + zlib.compress(bytes(raw), 6)


def _header(blob: bytes) -> tuple[_Reader, dict]:
    if not blob or blob[0] != VERSION:
        raise ValueError(f"unknown history chunk version {blob[:1]!r}")
    data = zlib.decompress(blob[1:])
    reader = _Reader(data)
    size = reader.uint()
    header = orjson.loads(data[reader.pos : reader.pos + size])
    reader.pos += size
    return reader, header


def group_rounds(blob: bytes) -> list[GroupRound]:
    """Every round of a group chunk, oldest first."""
    r, header = _header(blob)
    keys = [(t, int(p)) for t, p in header["keys"]]
    n = len(keys)
    prev_ms = header["start_ms"]
    committed, end, commit_ms, commits, estimate = ([0] * n for _ in range(5))
    out = []
    for _ in range(r.uint()):
        prev_ms += r.uint()
        status = STATUSES[r.data[r.pos]]
        r.pos += 1
        for i in range(n):
            committed[i] += r.sint()
        for i in range(n):
            end[i] += r.sint()
        lags = [r.sint() + max(end[i] - committed[i], 0) for i in range(n)]
        commit_at: list[float | None] = []
        for i in range(n):
            v = r.uint()
            if v:
                commit_ms[i] += _unzz(v - 1)
                commit_at.append(commit_ms[i] / 1000)
            else:
                commit_at.append(None)
        for i in range(n):
            commits[i] += r.sint()
        estimates: list[float | None] = []
        for i in range(n):
            v = r.uint()
            if v:
                estimate[i] += _unzz(v - 1)
                estimates.append(estimate[i] / 10)
            else:
                estimates.append(None)
        flags = r.data[r.pos : r.pos + n]
        r.pos += n
        parts = tuple(
            PartitionSample(
                topic=keys[i][0],
                partition=keys[i][1],
                committed=committed[i],
                end_offset=end[i],
                lag=lags[i],
                last_commit_at=commit_at[i],
                commits=commits[i],
                lag_seconds_estimate=estimates[i],
                lag_seconds_at_least=bool(flags[i] & 1),
                status=STATUSES[flags[i] >> 1],
            )
            for i in range(n)
        )
        out.append(GroupRound(prev_ms / 1000, status, parts))
    return out


class EndsChunkEncoder:
    """Appends a topic's end offsets round by round; blob() is the chunk so far."""

    def __init__(self, *, start: float, partitions: Sequence[int]) -> None:
        self.start_ms = _ms(start)
        self.partitions = tuple(partitions)
        self.rounds = 0
        self._body = bytearray()
        self._prev = [0] * len(self.partitions)
        self._prev_ms = self.start_ms

    def append(self, at: float, ends: dict[int, int]) -> None:
        """Add a round; `ends` must hold exactly the chunk's partitions."""
        if len(ends) != len(self.partitions):
            raise ValueError("a round's partitions differ from its chunk's")
        out, prev = self._body, self._prev
        at_ms = _ms(at)
        _put(out, at_ms - self._prev_ms)
        self._prev_ms = at_ms
        for i, partition in enumerate(self.partitions):
            value = ends[partition]
            _put(out, _zz(value - prev[i]))
            prev[i] = value
        self.rounds += 1

    def blob(self) -> bytes:
        """The chunk: a version byte, then the deflated header and rounds."""
        header = {"start_ms": self.start_ms, "partitions": self.partitions}
        return _blob(header, self.rounds, self._body)


def ends_rounds(blob: bytes) -> list[EndsRound]:
    """Every round of a topic's end-offset chunk, oldest first."""
    r, header = _header(blob)
    partitions = [int(p) for p in header["partitions"]]
    prev = [0] * len(partitions)
    at_ms = header["start_ms"]
    out = []
    for _ in range(r.uint()):
        at_ms += r.uint()
        for i in range(len(partitions)):
            prev[i] += r.sint()
        out.append(EndsRound(at_ms / 1000, dict(zip(partitions, prev, strict=True))))
    return out


def group_chunks(rounds: Iterable[GroupRound], max_rounds: int) -> list[bytes]:
    """Rounds (in time order) encoded as chunks: a new one when the partitions change."""
    blobs, enc = [], None
    for rnd in rounds:
        keys = tuple((p.topic, p.partition) for p in rnd.partitions)
        if enc is None or enc.keys != keys or enc.rounds >= max_rounds:
            if enc is not None:
                blobs.append(enc.blob())
            enc = GroupChunkEncoder(start=rnd.at, keys=keys)
        enc.append(rnd.at, rnd.status, rnd.partitions)
    if enc is not None:
        blobs.append(enc.blob())
    return blobs


def ends_chunks(rounds: Iterable[EndsRound], max_rounds: int) -> list[bytes]:
    """End-offset rounds (in time order) encoded as chunks, a new one when partitions change."""
    blobs, enc = [], None
    for rnd in rounds:
        partitions = tuple(sorted(rnd.ends))
        if enc is None or enc.partitions != partitions or enc.rounds >= max_rounds:
            if enc is not None:
                blobs.append(enc.blob())
            enc = EndsChunkEncoder(start=rnd.at, partitions=partitions)
        enc.append(rnd.at, rnd.ends)
    if enc is not None:
        blobs.append(enc.blob())
    return blobs


def _worse(a: str, b: str) -> str:
    # STATUSES is in Burrow's order of severity after "" (none).
    return a if _STATUS_CODE[a] >= _STATUS_CODE[b] else b


def fold_group(rounds: Sequence[GroupRound], bucket_at: float) -> GroupRound:
    """Several rounds of a group as one point: the last offsets, the largest lag, the worst status.

    The last committed and end offsets keep rates over a bucket exact; the largest lag,
    lag seconds and the worst status keep a short spike visible in a coarse chart.
    """
    last = rounds[-1]
    by_key: dict[Key, PartitionSample] = {}
    for rnd in rounds:
        for p in rnd.partitions:
            key = (p.topic, p.partition)
            seen = by_key.get(key)
            if seen is None:
                by_key[key] = p
                continue
            worst_secs = seen.lag_seconds_estimate
            at_least = seen.lag_seconds_at_least
            if p.lag_seconds_estimate is not None and (
                worst_secs is None or p.lag_seconds_estimate >= worst_secs
            ):
                worst_secs, at_least = p.lag_seconds_estimate, p.lag_seconds_at_least
            by_key[key] = replace(
                p,
                lag=max(seen.lag, p.lag),
                lag_seconds_estimate=worst_secs,
                lag_seconds_at_least=at_least,
                status=_worse(seen.status, p.status),
            )
    # The bucket's partitions are its last round's (a partition gone by then is gone).
    parts = tuple(by_key[(p.topic, p.partition)] for p in last.partitions)
    status = ""
    for rnd in rounds:
        status = _worse(status, rnd.status)
    return GroupRound(bucket_at, status, parts)


def fold_ends(rounds: Sequence[EndsRound], bucket_at: float) -> EndsRound:
    """Several rounds of end offsets as one point: the last ones (end offsets only grow)."""
    return EndsRound(bucket_at, dict(rounds[-1].ends))
