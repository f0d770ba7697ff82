"""Our own ListOffsets (a request a leader) answers what librdkafka's futures answer."""

from __future__ import annotations

from confluent_kafka import IsolationLevel, Producer, TopicPartition
from confluent_kafka.admin import OffsetSpec

from dashboard.kafka.groups.lag import offsets_known
from dashboard.kafka.topics import offsets_fast, watermarks_all


def librdkafka(admin, keys, spec, *, committed=False):
    """The judge: confluent-kafka's list_offsets, a future a partition."""
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    futures = admin.list_offsets(
        {TopicPartition(t, p): spec for t, p in keys}, isolation_level=level, request_timeout=15
    )
    return {(tp.topic, tp.partition): f.result(timeout=15).offset for tp, f in futures.items()}


def test_every_partition_of_a_few_topics_equals_librdkafka(kafka_broker, admin, make_topic) -> None:
    topics = [make_topic("lo", partitions=n) for n in (1, 7, 30)]
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i, topic in enumerate(topics):
        for p in admin.list_topics(topic).topics[topic].partitions:
            for _ in range((p * 3 + i) % 5):
                producer.produce(topic, value=b"x", partition=p)
    assert producer.flush(15) == 0
    # Records deleted from the start of some partitions: log start offsets above 0.
    deleted = admin.delete_records(
        [TopicPartition(topics[1], 2, 2), TopicPartition(topics[2], 3, 1)]
    )
    for future in deleted.values():
        future.result(timeout=15)
    keys = [(t, p) for t in topics for p in admin.list_topics(t).topics[t].partitions]
    for committed in (False, True):
        found, left = offsets_fast(
            cluster="local", keys=keys, timestamps=(-2, -1), read_committed=committed
        )
        assert left == set()
        for stamp, spec in ((-2, OffsetSpec.earliest()), (-1, OffsetSpec.latest())):
            judge = librdkafka(admin, keys, spec, committed=committed)
            assert {k: found[(stamp, k)] for k in keys} == judge
    marks = watermarks_all(cluster="local", partitions=keys)
    low = librdkafka(admin, keys, OffsetSpec.earliest())
    high = librdkafka(admin, keys, OffsetSpec.latest())
    assert {k: (m.low, m.high) for k, m in marks.items()} == {k: (low[k], high[k]) for k in keys}
    assert any(low[k] > 0 for k in keys)  # the deleted records count
    known = offsets_known(cluster="local", keys=keys, spec=OffsetSpec.earliest())
    assert known == low


def test_what_our_request_cannot_answer_goes_librdkafkas_way(make_topic, admin) -> None:
    topic = make_topic("lo-missing", partitions=2)
    keys = [(topic, 0), (topic, 1), (topic, 9), ("no-such-topic-lo-x", 0)]
    found, left = offsets_fast(cluster="local", keys=keys, timestamps=(-1,))
    assert left == {(topic, 9), ("no-such-topic-lo-x", 0)}
    assert set(found) == {(-1, (topic, 0)), (-1, (topic, 1))}
    # offsets_known sends those through librdkafka, as before (which refuses a partition
    # no leader has: "No leaders found", a 503, unchanged by this path).
    known = offsets_known(cluster="local", keys=keys[:2], spec=OffsetSpec.latest())
    assert known == {(topic, 0): 0, (topic, 1): 0}
