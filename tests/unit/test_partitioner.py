"""Key -> partition (pure): Kafka's own murmur2 test vectors, the sign bit, CRC32.

The JVM cross-check over random keys and the real-producer check are integration tests.
"""

from __future__ import annotations

import zlib

import pytest

from dashboard.kafka.partitioner import murmur2, partition_for_key, to_positive

# From Kafka's own UtilsTest.testMurmur2 (clients/src/test/.../utils/UtilsTest.java).
KAFKA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS)
def test_murmur2_matches_kafkas_test_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


@pytest.mark.parametrize("value", [0, 1, -1, -(2**31), 2**31 - 1, -5])
def test_to_positive_clears_the_sign_bit_like_java(value: int) -> None:
    assert to_positive(value) == value & 0x7FFFFFFF
    assert 0 <= to_positive(value) <= 2**31 - 1


def test_murmur2_partition_is_to_positive_modulo() -> None:
    for n in range(1, 13):
        assert partition_for_key(b"foobar", n) == to_positive(-790332482) % n


def test_crc32_is_librdkafkas_consistent_partitioner() -> None:
    assert partition_for_key(b"user-1", 7, partitioner="crc32") == zlib.crc32(b"user-1") % 7


def test_unknown_partitioner_and_no_partitions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown partitioner"):
        partition_for_key(b"k", 3, partitioner="fnv")
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for_key(b"k", 0)


def test_empty_key_hashes_like_java() -> None:
    # Java's murmur2 of zero bytes: only the seed mixing runs.
    assert partition_for_key(b"", 5) == to_positive(murmur2(b"")) % 5
