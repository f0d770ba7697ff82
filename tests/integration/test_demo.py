"""Demo traffic replays the processing flow on the real broker."""

from __future__ import annotations

import time

from confluent_kafka import ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from devtools.demo import (
    AUTO_COMMIT_GROUP,
    DEMO_PARTITIONS,
    DEMO_TOPIC,
    MANUAL_COMMIT_GROUP,
    SHARE_GROUP,
    SPLIT_GROUP,
    STOPPED_GROUP,
    DemoTraffic,
)


def committed(admin: AdminClient, group: str) -> dict[int, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    offsets = result[group].result(timeout=10).topic_partitions
    return {tp.partition: tp.offset for tp in offsets if tp.topic == DEMO_TOPIC and tp.offset >= 0}


def wait_for(check, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check.__doc__ or check}"
        time.sleep(0.5)


def test_demo_flow(kafka_broker, admin: AdminClient) -> None:
    demo = DemoTraffic(
        conf={"bootstrap.servers": kafka_broker.bootstrap_servers},
        rate=30.0,
        stopped_group_seconds=6.0,
    )
    demo.start()
    try:
        topic = admin.list_topics(DEMO_TOPIC, timeout=10).topics[DEMO_TOPIC]
        assert len(topic.partitions) == DEMO_PARTITIONS

        def split_group_formed() -> bool:
            """consumer-group-1 with two members owning all partitions"""
            desc = admin.describe_consumer_groups([SPLIT_GROUP])[SPLIT_GROUP].result(timeout=10)
            owned = [
                tp.partition for member in desc.members for tp in member.assignment.topic_partitions
            ]
            return (
                desc.state == ConsumerGroupState.STABLE
                and len(desc.members) == 2
                and sorted(owned) == list(range(DEMO_PARTITIONS))
                and all(m.assignment.topic_partitions for m in desc.members)
            )

        wait_for(split_group_formed)

        def stopped_group_is_empty_with_offsets() -> bool:
            """test-consumer-group consumed, committed, then left"""
            desc = admin.describe_consumer_groups([STOPPED_GROUP])[STOPPED_GROUP].result(timeout=10)
            return desc.state == ConsumerGroupState.EMPTY and bool(committed(admin, STOPPED_GROUP))

        wait_for(stopped_group_is_empty_with_offsets)

        def commits_from_both_commit_styles() -> bool:
            """manual and auto commit groups have committed offsets"""
            return bool(committed(admin, MANUAL_COMMIT_GROUP)) and bool(
                committed(admin, AUTO_COMMIT_GROUP)
            )

        wait_for(commits_from_both_commit_styles)

        def share_group_reads_as_a_queue() -> bool:
            """share-group-1: two members covering every partition, records consumed"""
            from dashboard.kafka.groups.lag import group_detail

            share = group_detail(cluster="local", group=SHARE_GROUP)
            return (
                share.type == "share"
                and len(share.members) == 2
                and {p for m in share.members for _, p in m.assignment}
                == set(range(DEMO_PARTITIONS))
                and demo.consumed.get(SHARE_GROUP, 0) > 0
            )

        wait_for(share_group_reads_as_a_queue)

        # The stopped group falls behind while the producer goes on.
        stopped_at = committed(admin, STOPPED_GROUP)
        time.sleep(1.5)
        ends = {}
        for p in range(DEMO_PARTITIONS):
            _, high = admin_watermarks(kafka_broker, p)
            ends[p] = high
        assert sum(ends.values()) > sum(stopped_at.values())
        assert not demo.errors
    finally:
        demo.stop()
    assert demo.produced > 0
    assert all(not t.is_alive() for t in demo.threads)


def admin_watermarks(kafka_broker, partition: int) -> tuple[int, int]:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": "wm"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(DEMO_TOPIC, partition), timeout=10)
    finally:
        consumer.close()
