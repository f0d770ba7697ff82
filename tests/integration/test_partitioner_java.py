"""Key -> partition: our murmur2 against Kafka's Java code and against a real producer."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Producer

from dashboard.kafka.partitioner import murmur2, partition_for_key
from devtools.broker import jars_ensure, java_bin
from tests.helpers import CACHE_DIR

JAVA_SOURCE = Path(__file__).parent / "java" / "Murmur2.java"


def java_murmur2(keys: list[bytes]) -> dict[bytes, tuple[int, list[int]]]:
    """Kafka's Utils.murmur2 and the partition for 1..12 partitions, computed by the JVM."""
    lib = jars_ensure(cache_dir=CACHE_DIR)
    result = subprocess.run(
        [java_bin(), "-cp", f"{lib}/*", str(JAVA_SOURCE), *(k.hex() for k in keys)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = {}
    for line in result.stdout.splitlines():
        hex_key, hash_, *parts = line.split(" ")
        out[bytes.fromhex(hex_key)] = (int(hash_), [int(p) for p in parts])
    return out


def test_murmur2_equals_kafkas_java_code() -> None:
    rng = random.Random(4242)
    keys = [b"a", b"ab", b"abc", b"abcd", b"21", b"foobar", b"user-1", "ключ-☃".encode()]
    keys += [os.urandom(n) for n in range(0, 40)]
    keys += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) for _ in range(150)]
    truth = java_murmur2(keys)
    assert len(truth) == len(set(keys))
    for key, (hash_, parts) in truth.items():
        assert murmur2(key) == hash_, key
        assert [partition_for_key(key, n) for n in range(1, 13)] == parts, key


@pytest.mark.parametrize(
    ("ours", "librdkafka"), [("murmur2", "murmur2_random"), ("crc32", "consistent_random")]
)
def test_a_real_producer_puts_keys_where_we_predict(
    kafka_broker, make_topic, ours, librdkafka
) -> None:
    topic = make_topic("partitioner", partitions=7)
    producer = Producer(
        {"bootstrap.servers": kafka_broker.bootstrap_servers, "partitioner": librdkafka}
    )
    landed: dict[bytes, int] = {}

    def report(err, msg) -> None:
        assert err is None
        landed[msg.key()] = msg.partition()

    keys = [f"user-{i}".encode() for i in range(60)]
    for key in keys:
        producer.produce(topic, key=key, value=b"v", on_delivery=report)
    producer.flush(15)
    assert len(landed) == len(keys)
    for key in keys:
        assert landed[key] == partition_for_key(key, 7, partitioner=ours), key
