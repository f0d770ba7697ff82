"""Which partition a key goes to: the Java clients' murmur2 and librdkafka's CRC32 (pure logic).

Java: org.apache.kafka.common.utils.Utils.murmur2 and
BuiltInPartitioner.partitionForKey = toPositive(murmur2(key)) % numPartitions.
librdkafka: "murmur2_random" is the same for keyed messages; "consistent_random"
(librdkafka's default) is crc32(key) % numPartitions. Messages without a key go
to a partition the producer picks (sticky for sticky.partitioning.linger.ms, 10 ms
by default in librdkafka, then another at random).
"""

from __future__ import annotations

import zlib

PARTITIONERS = {
    "murmur2": "murmur2 (Java clients' default; librdkafka murmur2_random)",
    "crc32": "CRC32 (librdkafka's default, consistent_random)",
}
# The librdkafka setting that makes a producer hash keys like each of the above.
LIBRDKAFKA_PARTITIONER = {"murmur2": "murmur2_random", "crc32": "consistent_random"}
UNKEYED = (
    "no key: the producer picks the partition — sticky (one partition per batch, for "
    "sticky.partitioning.linger.ms = 10 ms), then another at random"
)

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Utils.murmur2), as the signed 32-bit int Java returns."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    whole = length // 4
    for i in range(whole):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = data[whole * 4 :]
    rest = len(tail)
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """Kafka's Utils.toPositive: clear the sign bit (not abs())."""
    return number & 0x7FFFFFFF


def partition_for_key(key: bytes, partitions: int, *, partitioner: str = "murmur2") -> int:
    """The partition a keyed message goes to under the named partitioner."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    if partitioner == "murmur2":
        return to_positive(murmur2(key)) % partitions
    if partitioner == "crc32":
        return zlib.crc32(key) % partitions
    raise ValueError(f"unknown partitioner {partitioner!r}")
