"""A hanging transaction, made on purpose: records written in a transaction that no
coordinator knows, so nothing will ever write its marker — what a producer's bug (KAFKA-12671)
or a lost AddPartitionsToTxn leaves. `kafka-transactions find-hanging` lists it and only an
abort (WriteTxnMarkers) frees the partition's read_committed readers.

It is written with our protocol module: an idempotent producer id (InitProducerId without a
transactional id, so no coordinator holds it) and one Produce of a record batch (magic 2)
marked transactional. A development and test tool; the dashboard never sends these.
"""

from __future__ import annotations

import struct
import time

from dashboard.kafka.client.brokers import BrokerNode, answer, check, send

RETRIABLE = {14, 15, 16}  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR

# CRC-32C (Castagnoli), reflected, as a record batch's checksum: a few hundred bytes here.
_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    """The CRC-32C of data."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _zigzag(value: int) -> bytes:
    # A record's fields are signed varints (zigzag), as protobuf's sint64.
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def transactional_batch(
    *, producer_id: int, epoch: int, values: list[bytes], timestamp_ms: int
) -> bytes:
    """A record batch (magic 2) of values, marked transactional, sequence 0."""
    records = b""
    for i, value in enumerate(values):
        body = (
            b"\x00"  # attributes
            + _zigzag(0)  # timestamp delta
            + _zigzag(i)  # offset delta
            + _zigzag(-1)  # no key
            + _zigzag(len(value))
            + value
            + _zigzag(0)  # no headers
        )
        records += _zigzag(len(body)) + body
    checked = (
        struct.pack(
            ">hiqqqhii",
            0x10,
            len(values) - 1,
            timestamp_ms,
            timestamp_ms,
            producer_id,
            epoch,
            0,
            len(values),
        )
        + records
    )
    rest = struct.pack(">ibI", -1, 2, crc32c(checked)) + checked
    return struct.pack(">qi", 0, len(rest)) + rest


def hanging_write(
    *,
    cluster: str,
    node: BrokerNode,
    topic: str,
    partition: int,
    values: list[bytes],
    timestamp_ms: int | None = None,
) -> tuple[int, int]:
    """Write values to the partition (led by node) in a transaction nobody will end;
    (producer id, the transaction's first offset). timestamp_ms: the records' time (the
    producer's last timestamp, which find-hanging ages), now by default."""
    deadline = time.monotonic() + 30
    while True:
        got = answer(
            send(
                cluster=cluster,
                node=node,
                name="InitProducerId",
                values={"TransactionalId": None, "TransactionTimeoutMs": 60_000},
            ),
            cluster=cluster,
        )
        # A new broker's transaction coordinator loads its log first: ask again.
        if got["ErrorCode"] not in RETRIABLE or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(got["ErrorCode"], None, cluster=cluster)
    producer_id, epoch = got["ProducerId"], got["ProducerEpoch"]
    batch = transactional_batch(
        producer_id=producer_id,
        epoch=epoch,
        values=values,
        timestamp_ms=int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
    )
    values_ = {
        # Named, or the broker refuses transactional records (TRANSACTIONAL_ID_AUTHORIZATION);
        # an id no coordinator has heard of, so none will ever end this transaction.
        "TransactionalId": f"kafkaview-hanging-{producer_id}",
        "Acks": -1,
        "TimeoutMs": 10_000,
        "TopicData": [{"Name": topic, "PartitionData": [{"Index": partition, "Records": batch}]}],
    }
    # v11: before v12 a broker does not add the partition to the transaction itself (KIP-890).
    done = answer(
        send(cluster=cluster, node=node, name="Produce", values=values_, high=11), cluster=cluster
    )
    (part,) = done["Responses"][0]["PartitionResponses"]
    check(part["ErrorCode"], part.get("ErrorMessage"), cluster=cluster)
    return producer_id, part["BaseOffset"]
