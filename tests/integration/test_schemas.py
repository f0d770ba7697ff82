"""Schema Registry records in the tail: a real Apicurio Registry, confluent-kafka's serializers."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.test import override_settings

from dashboard.kafka.config import ClusterConfig, RegistryConfig
from dashboard.kafka.masking import MaskedMessage, Masker
from dashboard.kafka.schemas import DecodedMessage, decoder_for
from devtools.broker import free_port
from tests.helpers import clusters_for, unique
from tests.integration.test_tail import Tail, run

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {
            "name": "total",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
        },
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
        {
            "name": "customer",
            "type": {
                "type": "record",
                "name": "Customer",
                "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "card", "type": ["null", "string"], "default": None},
                ],
            },
        },
        {"name": "raw", "type": "bytes"},
    ],
}
ORDER_V2 = {
    **ORDER_V1,
    "fields": [*ORDER_V1["fields"], {"name": "note", "type": "string", "default": ""}],
}


def order(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=i)),
        "placed": datetime(2026, 12, 1, 10, 0, i, 123000, tzinfo=UTC),
        "day": date(2026, 12, 1),
        "total": Decimal("12.50") + i,
        "status": "PAID",
        "customer": {"name": f"<b>cust {i}</b>", "card": "4111-1111-1111-1111"},
        "raw": b"\x00\xff",
        **extra,
    }


def decoded_expected(o: dict[str, Any]) -> dict[str, Any]:
    """What the tail should show for an order: JSON with readable logical types."""
    return {
        **o,
        "placed": o["placed"].isoformat(),
        "day": o["day"].isoformat(),
        "total": str(o["total"]),
        "raw": "AP8=",
    }


@pytest.fixture
def registry_cluster(kafka_broker, schema_registry):
    clusters = clusters_for(kafka_broker.bootstrap_servers)
    local = ClusterConfig(
        name="local",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        schema_registry=RegistryConfig(url=schema_registry.url),
    )
    # A second cluster whose registry is down: records show as hex with the reason.
    down = ClusterConfig(
        name="noregistry",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        schema_registry=RegistryConfig(url=f"http://127.0.0.1:{free_port()}"),
    )
    clusters = type(clusters)(
        by_name={"local": local, "noregistry": down}, default="local", source="environment"
    )
    with override_settings(KAFKAVIEW_CLUSTERS=clusters):
        yield SchemaRegistryClient({"url": schema_registry.url})


def produce_with(bootstrap: str, topic: str, serializer: Any, values: list[Any]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        ctx = SerializationContext(topic, MessageField.VALUE)
        producer.produce(topic, key=f"k{i}".encode(), value=serializer(value, ctx), partition=0)
    assert producer.flush(15) == 0


def tail_all(topic: str, count: int, *, cluster: str = "local", **params: Any) -> list[dict]:
    async def scenario() -> list[dict]:
        tail = Tail(topic, cluster=cluster)
        await tail.open()
        started = await tail.start(start="earliest", **params)
        assert started["type"] == "started", started
        records = await tail.collect(count)
        await tail.close()
        return records

    return run(scenario)


def test_avro_records_of_two_schema_versions_decode_to_the_values_sent(
    kafka_broker, make_topic, registry_cluster
) -> None:
    topic = make_topic("avro")
    v1 = AvroSerializer(registry_cluster, json.dumps(ORDER_V1))
    v2 = AvroSerializer(registry_cluster, json.dumps(ORDER_V2))
    sent_v1, sent_v2 = [order(1), order(2)], [order(3, note="gift")]
    produce_with(kafka_broker.bootstrap_servers, topic, v1, sent_v1)
    produce_with(kafka_broker.bootstrap_servers, topic, v2, sent_v2)

    records = tail_all(topic, 3)
    values = [json.loads(r["value"]["text"]) for r in records]
    assert values == [decoded_expected(o) for o in sent_v1 + sent_v2]
    schemas = [r["value"]["schema"] for r in records]
    assert [(s["type"], s["subject"], s["version"]) for s in schemas] == [
        ("AVRO", f"{topic}-value", 1),
        ("AVRO", f"{topic}-value", 1),
        ("AVRO", f"{topic}-value", 2),
    ]
    ids = registry_cluster.get_versions(f"{topic}-value")
    assert len(ids) == 2 and schemas[0]["id"] != schemas[2]["id"]
    assert records[0]["value"]["kind"] == "json"
    # Keys are plain bytes: shown as text, no schema.
    assert records[0]["key"]["text"] == "k0" and "schema" not in records[0]["key"]


def test_json_schema_records_decode_and_filters_see_the_decoded_json(
    kafka_broker, make_topic, registry_cluster
) -> None:
    topic = make_topic("jsonschema")
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Reading",
        "type": "object",
        "properties": {"sensor": {"type": "string"}, "value": {"type": "number"}},
        "required": ["sensor", "value"],
    }
    serializer = JSONSerializer(json.dumps(schema), registry_cluster)
    sent = [{"sensor": "boiler", "value": 81.5}, {"sensor": "pump", "value": 3}]
    produce_with(kafka_broker.bootstrap_servers, topic, serializer, sent)

    records = tail_all(topic, 2)
    assert [json.loads(r["value"]["text"]) for r in records] == sent
    assert records[0]["value"]["schema"]["type"] == "JSON"
    # The filter runs on the decoded value (the wire bytes start with a zero and an id).
    found = tail_all(topic, 1, filter={"text": '"pump"', "on": "value"})
    assert [json.loads(r["value"]["text"])["sensor"] for r in found] == ["pump"]


def test_unknown_ids_and_a_registry_that_is_down_show_hex_with_the_reason(
    kafka_broker, make_topic, registry_cluster
) -> None:
    topic = make_topic("badschema")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    producer.produce(topic, value=b"\x00" + (987654).to_bytes(4, "big") + b"\x02hi", partition=0)
    producer.produce(topic, value=b"plain after it", partition=0)
    producer.flush(15)

    records = tail_all(topic, 2)
    assert records[0]["value"]["kind"] == "hex"
    assert records[0]["value"]["schema"] == {
        "id": 987654,
        "error": "schema id 987654 is not in the registry",
    }
    assert records[1]["value"]["text"] == "plain after it"

    serializer = AvroSerializer(registry_cluster, json.dumps(ORDER_V1))
    produce_with(kafka_broker.bootstrap_servers, topic, serializer, [order(7)])
    down = tail_all(topic, 3, cluster="noregistry")
    assert down[2]["value"]["kind"] == "hex"
    assert down[2]["value"]["schema"]["error"].startswith("the registry did not answer")
    assert down[1]["value"]["text"] == "plain after it"  # the tail goes on


def test_masks_apply_to_the_decoded_json(kafka_broker, make_topic, registry_cluster) -> None:
    topic = make_topic("avromask")
    serializer = AvroSerializer(registry_cluster, json.dumps(ORDER_V1))
    produce_with(kafka_broker.bootstrap_servers, topic, serializer, [order(4)])
    consumer = Consumer(
        {"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": unique("g-mask"),
         "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    msg = None
    for _ in range(30):
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            break
    consumer.close()
    assert msg is not None and msg.error() is None
    decoder = decoder_for("local")
    assert decoder is not None
    masker = Masker.of(json_fields=["customer.card"], patterns=[re.compile(r"cust \d")])
    seen = MaskedMessage(DecodedMessage(msg, decoder), masker)
    value = json.loads(seen.value() or b"")
    assert value["customer"] == {"name": "<b>***</b>", "card": "***"}
    assert seen.masked["value"]


def test_a_schema_record_in_the_tail_takes_only_one_registry_lookup(
    kafka_broker, make_topic, registry_cluster
) -> None:
    topic = make_topic("avromany")
    serializer = AvroSerializer(registry_cluster, json.dumps(ORDER_V1))
    produce_with(kafka_broker.bootstrap_servers, topic, serializer, [order(i) for i in range(50)])
    records = tail_all(topic, 50)
    assert len({r["value"]["schema"]["id"] for r in records}) == 1
    assert all(r["value"]["kind"] == "json" for r in records)
    # The decoder kept the parsed schema: one writer for the id.
    decoder = decoder_for("local")
    assert decoder is not None
    assert records[0]["value"]["schema"]["id"] in decoder._writers
