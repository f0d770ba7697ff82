"""Kafka's failure codes, in one table: which mean "the cluster is not answering right now"
(a 503 and a retry) and which mean "Kafka refused this" (pure, but for librdkafka's names)."""

from __future__ import annotations

from confluent_kafka import KafkaError

# Kafka protocol error codes (org.apache.kafka.common.protocol.Errors) we test for by name.
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
UNSUPPORTED_VERSION = 35  # protocol/wire.py tests it too (protocol/ imports nothing of ours)

# Error codes (org.apache.kafka.common.protocol.Errors) that mean "not now".
TRANSIENT_CODES = {
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    13: "NETWORK_EXCEPTION",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    16: "NOT_COORDINATOR",
}
ERROR_NAMES = {
    **TRANSIENT_CODES,
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    24: "INVALID_GROUP_ID",
    25: "UNKNOWN_MEMBER_ID",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    35: "UNSUPPORTED_VERSION",
    42: "INVALID_REQUEST",
    68: "NON_EMPTY_GROUP",
    69: "GROUP_ID_NOT_FOUND",
    100: "UNKNOWN_TOPIC_ID",
}

# The group's coordinator moved or is still loading: librdkafka finds it and retries.
COORDINATOR_MOVING = frozenset(
    {COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR}
)

# librdkafka's error codes that mean "the cluster is not answering", not "your request is wrong".
LIBRDKAFKA_UNAVAILABLE = {
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
    KafkaError._DESTROY,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION,
    KafkaError.BROKER_NOT_AVAILABLE,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    # librdkafka's "Failed to query partition leaders: No leaders found": while a broker
    # recovers or a leader is being elected, not a bad request.
    KafkaError._NOENT,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    # A leadership change under way: the Java client retries these (RetriableException).
    # A partition just created answered UNKNOWN_LEADER_EPOCH to ListOffsets on a busy
    # machine, and the create page said "Kafka refused the request".
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.OFFSET_NOT_AVAILABLE,
}
