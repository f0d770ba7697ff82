"""The two requests whose answers hold a row for every partition of a big cluster, read
by hand without a dict a partition: ListOffsets (v6+) and OffsetFetch (v8-9, many groups).

The generic codec (messages.py) builds and reads a dict for every partition: for the
topic list of a 36,000-partition cluster (two timestamps, 72,000 partitions) that was
~0.5 s of the page's 1.7 s, and 0.34 s of the group list's OffsetFetch of 141,000
commits (bench/big.py). These write the same bytes (tests compare them with
messages.encode at every version) and read an answer into flat tuples; older versions
go the generic way.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from dashboard.kafka.protocol.messages import ProtocolError, encode

# The first flexible version (compact arrays and strings, tagged fields), the newest we know.
LOW = 6
HIGH = 11

_HEAD = struct.Struct(">ib")  # ReplicaId, IsolationLevel
_PARTITION = struct.Struct(">i")
_TAIL = struct.Struct(">iqB")  # CurrentLeaderEpoch, Timestamp, no tagged fields
_TIMEOUT = struct.Struct(">iB")  # TimeoutMs (v10+), no tagged fields
_ANSWER = struct.Struct(">ihqqi")  # PartitionIndex, ErrorCode, Timestamp, Offset, LeaderEpoch
_THROTTLE = struct.Struct(">i")
_COMMIT = struct.Struct(">iqi")  # PartitionIndex, CommittedOffset, CommittedLeaderEpoch
_ERROR = struct.Struct(">h")


def _uvarint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ProtocolError("an answer ends inside a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 35:
            raise ProtocolError("an answer holds a varint longer than 5 bytes")


def _skip_tags(data: bytes, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
    if pos > len(data):
        raise ProtocolError("an answer ends inside a tagged field")
    return pos


def _string(data: bytes, pos: int) -> tuple[str, int]:
    """A compact string that may not be null."""
    length, pos = _uvarint(data, pos)
    if length == 0 or pos + length - 1 > len(data):
        raise ProtocolError("an answer holds a null or cut string")
    return data[pos : pos + length - 1].decode(), pos + length - 1


class ListOffsetsAsk:
    """One ListOffsets request: a timestamp for each partition of some topics."""

    name = "ListOffsets"
    low = LOW
    high = HIGH

    def __init__(
        self,
        topics: Sequence[tuple[str, Sequence[int]]],
        *,
        timestamp: int,
        read_committed: bool,
        timeout_ms: int = 0,
    ) -> None:
        self.topics = topics
        self.timestamp = timestamp
        self.read_committed = read_committed
        self.timeout_ms = timeout_ms

    def encode(self, version: int) -> bytes:
        """The request body in `version` (6-11), byte for byte what messages.encode writes."""
        if not LOW <= version <= HIGH:
            raise ProtocolError(f"ListOffsetsAsk does not write version {version}")
        tail = _TAIL.pack(-1, self.timestamp, 0)
        pack = _PARTITION.pack
        parts = [_HEAD.pack(-1, 1 if self.read_committed else 0)]
        parts.append(_uvarint_bytes(len(self.topics) + 1))
        for name, partitions in self.topics:
            raw = name.encode()
            parts.append(_uvarint_bytes(len(raw) + 1))
            parts.append(raw)
            parts.append(_uvarint_bytes(len(partitions) + 1))
            parts.extend(pack(p) + tail for p in partitions)
            parts.append(b"\0")  # the topic's tagged fields
        parts.append(_TIMEOUT.pack(self.timeout_ms, 0) if version >= 10 else b"\0")
        return b"".join(parts)

    @staticmethod
    def decode(version: int, data: bytes, pos: int) -> list[tuple[str, int, int, int]]:
        """An answer as (topic, partition, error code, offset) for every partition in it."""
        if not LOW <= version <= HIGH:
            raise ProtocolError(f"ListOffsetsAsk does not read version {version}")
        out: list[tuple[str, int, int, int]] = []
        try:
            pos += _THROTTLE.size
            count, pos = _uvarint(data, pos)
            unpack = _ANSWER.unpack_from
            size = _ANSWER.size
            for _ in range(count - 1):
                name, pos = _string(data, pos)
                parts, pos = _uvarint(data, pos)
                for _ in range(parts - 1):
                    partition, error, _stamp, offset, _epoch = unpack(data, pos)
                    pos += size
                    # Tagged fields: almost always none, one zero byte.
                    pos = pos + 1 if data[pos] == 0 else _skip_tags(data, pos)
                    out.append((name, partition, error, offset))
                pos = pos + 1 if data[pos] == 0 else _skip_tags(data, pos)
            _skip_tags(data, pos)
        except (struct.error, IndexError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"ListOffsets answer could not be read: {exc}") from None
        return out


class OffsetFetchAsk:
    """One OffsetFetch request (v8-9) for many groups: every commit, or these topics'."""

    name = "OffsetFetch"
    low = 8
    high = 9

    def __init__(
        self, groups: Sequence[str], *, topics: Sequence[tuple[str, Sequence[int]]] | None
    ) -> None:
        self.groups = groups
        self.topics = topics

    def encode(self, version: int) -> bytes:
        """The request body (a small one: the generic encoder writes it)."""
        wanted = (
            None
            if self.topics is None
            else [{"Name": t, "PartitionIndexes": list(ps)} for t, ps in self.topics]
        )
        values = {
            "Groups": [{"GroupId": g, "Topics": wanted} for g in self.groups],
            "RequireStable": False,
        }
        return encode("OffsetFetchRequest", version, values)

    @staticmethod
    def decode(
        version: int, data: bytes, pos: int
    ) -> list[tuple[str, int, dict[tuple[str, int], int]]]:
        """(group, error code, its commits by partition) for each group answered; a
        partition with an error or a negative offset (-1: none) is no commit, as librdkafka
        reads it."""
        if not OffsetFetchAsk.low <= version <= OffsetFetchAsk.high:
            raise ProtocolError(f"OffsetFetchAsk does not read version {version}")
        out: list[tuple[str, int, dict[tuple[str, int], int]]] = []
        try:
            pos += _THROTTLE.size
            groups, pos = _uvarint(data, pos)
            unpack = _COMMIT.unpack_from
            for _ in range(groups - 1):
                group, pos = _string(data, pos)
                commits: dict[tuple[str, int], int] = {}
                topics, pos = _uvarint(data, pos)
                for _ in range(topics - 1):
                    name, pos = _string(data, pos)
                    parts, pos = _uvarint(data, pos)
                    for _ in range(parts - 1):
                        partition, offset, _epoch = unpack(data, pos)
                        pos += 16
                        meta = data[pos]  # Metadata: a compact nullable string, mostly ""
                        if meta <= 1:
                            pos += 1
                        else:
                            length, pos = _uvarint(data, pos)
                            pos += length - 1
                        (error,) = _ERROR.unpack_from(data, pos)
                        pos += 2
                        pos = pos + 1 if data[pos] == 0 else _skip_tags(data, pos)
                        if error == 0 and offset >= 0:
                            commits[(name, partition)] = offset
                    pos = pos + 1 if data[pos] == 0 else _skip_tags(data, pos)
                (code,) = _ERROR.unpack_from(data, pos)
                pos += 2
                pos = pos + 1 if data[pos] == 0 else _skip_tags(data, pos)
                out.append((group, code, commits))
            _skip_tags(data, pos)
        except (struct.error, IndexError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"OffsetFetch answer could not be read: {exc}") from None
        return out
