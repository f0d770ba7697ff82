"""Schema Registry records in the tail: a real Apicurio Registry, confluent-kafka's serializers."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import grpc_tools
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from django.test import override_settings
from grpc_tools import protoc

from dashboard.kafka.config import ClusterConfig, RegistryConfig
from dashboard.kafka.linear import linear_compile
from dashboard.kafka.masking import MaskedMessage, Masker
from dashboard.kafka.registry.client import RETRY_AFTER, DecodedMessage, decoder_for
from devtools.broker import free_port
from devtools.registry import LocalRegistry
from tests.helpers import CACHE_DIR, clusters_for, unique
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
        # A timeout: a request must fail, not hang the test, if the registry stops answering.
        yield SchemaRegistryClient({"url": schema_registry.url, "timeout": 10})


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
    masker = Masker.of(json_fields=["customer.card"], patterns=[linear_compile(r"cust \d")])
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


MONEY_PROTO = """syntax = "proto3";
package shop.common;

message Money {
  string currency = 1;
  int64 cents = 2;
}
"""
ORDER_PROTO = """syntax = "proto3";
package shop;

import "shop/common/money.proto";
import "google/protobuf/timestamp.proto";

message Order {
  enum State { STATE_UNKNOWN = 0; NEW = 1; PAID = 2; }
  message Line {
    string sku = 1;
    int32 quantity = 2;
  }
  string id = 1;
  State state = 2;
  repeated Line lines = 3;
  shop.common.Money total = 4;
  google.protobuf.Timestamp placed = 5;
}
"""


def compiled_protos(tmp_path: Any) -> Any:
    """Python classes of the test's .proto files (what a producer would have), by protoc."""
    (tmp_path / "shop" / "common").mkdir(parents=True)
    (tmp_path / "shop" / "common" / "money.proto").write_text(MONEY_PROTO)
    (tmp_path / "shop" / "order.proto").write_text(ORDER_PROTO)
    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    code = protoc.main(
        ["protoc", f"-I{tmp_path}", f"-I{includes}", f"--python_out={tmp_path}",
         "shop/common/money.proto", "shop/order.proto"]
    )  # fmt: skip
    assert code == 0
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("shop.order_pb2")
    finally:
        sys.path.remove(str(tmp_path))


def test_protobuf_with_nested_messages_enums_and_imports_decodes_without_classes(
    kafka_broker, make_topic, registry_cluster, tmp_path
) -> None:
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    order_pb2 = compiled_protos(tmp_path)
    topic = make_topic("proto")
    serializer = ProtobufSerializer(
        order_pb2.Order, registry_cluster, {"use.deprecated.format": False}
    )
    message = order_pb2.Order(id="o-1", state=order_pb2.Order.PAID)
    message.lines.add(sku="A-1", quantity=2)
    message.lines.add(sku="<script>", quantity=1)
    message.total.currency, message.total.cents = "EUR", 1250
    message.placed.FromJsonString("2026-12-01T10:00:00Z")
    line = order_pb2.Order.Line(sku="nested-only", quantity=7)
    produce_with(kafka_broker.bootstrap_servers, topic, serializer, [message])
    # A nested message type as the record: the message indexes point inside Order.
    nested = ProtobufSerializer(
        order_pb2.Order.Line, registry_cluster, {"use.deprecated.format": False}
    )
    produce_with(kafka_broker.bootstrap_servers, topic, nested, [line])

    records = tail_all(topic, 2)
    assert json.loads(records[0]["value"]["text"]) == {
        "id": "o-1",
        "state": "PAID",
        "lines": [{"sku": "A-1", "quantity": 2}, {"sku": "<script>", "quantity": 1}],
        "total": {"currency": "EUR", "cents": "1250"},
        "placed": "2026-12-01T10:00:00Z",
    }
    assert records[0]["value"]["schema"]["type"] == "PROTOBUF"
    assert json.loads(records[1]["value"]["text"]) == {"sku": "nested-only", "quantity": 7}


def read_back(bootstrap: str, topic: str, count: int, deserializer: Any) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("g-read"),
         "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    values: list[Any] = []
    for _ in range(60):
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            ctx = SerializationContext(topic, MessageField.VALUE)
            values.append(deserializer(msg.value(), ctx))
            if len(values) == count:
                break
    consumer.close()
    return values


def test_produce_through_the_form_with_a_schema_reads_back_with_confluents_deserializer(
    kafka_broker, make_topic, registry_cluster, schema_registry, operator
) -> None:
    from confluent_kafka.schema_registry.avro import AvroDeserializer

    topic = make_topic("avroform")
    registry_cluster.register_schema(f"{topic}-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    url = f"/clusters/local/topics/{topic}/produce/"
    page = operator.get(url).content.decode()
    assert 'value="schema"' in page, page[
        page.find("id_encoding") - 200 : page.find("id_encoding") + 600
    ]
    assert f'value="{topic}-value"' in page
    value = {
        "id": str(uuid.UUID(int=9)),
        "placed": 1764583200123,
        "day": 20423,
        "total": 12.5,
        "status": "NEW",
        "customer": {"name": "form", "card": None},
        "raw": "",
    }
    base = {"mode": "single", "key": "k", "encoding": "schema", "subject": f"{topic}-value",
            "schema_version": "latest", "partition": "0", "partitioner": "murmur2"}  # fmt: skip
    response = operator.post(url, {**base, "value": json.dumps(value)})
    assert response.status_code == 200, response.context["single"].errors
    assert 'id="produce-result"' in response.content.decode(), response.content.decode()[-3000:]
    fresh = SchemaRegistryClient({"url": schema_registry.url, "timeout": 10})
    (got,) = read_back(kafka_broker.bootstrap_servers, topic, 1, AvroDeserializer(fresh))
    assert got["customer"] == {"name": "form", "card": None}
    assert got["total"] == Decimal("12.50") and got["status"] == "NEW"
    assert got["placed"] == datetime(2025, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)

    # Checked before anything is sent; the error names the field.
    bad = {**value, "customer": {"name": 5, "card": None}}
    response = operator.post(url, {**base, "value": json.dumps(bad)})
    text = response.content.decode()
    assert response.status_code == 400 and 'id="produce-result"' not in text
    errors = response.context["single"].errors["value"]
    assert "shop.Customer.name is <5>" in errors[0], errors
    missing = operator.post(url, {**base, "subject": "no-such-subject", "value": "{}"})
    assert "has no version latest" in missing.content.decode()


def test_json_schema_errors_point_at_the_field(
    kafka_broker, make_topic, registry_cluster, operator
) -> None:
    topic = make_topic("jsonform")
    schema = {
        "type": "object",
        "properties": {"sensor": {"type": "string"}, "value": {"type": "number"}},
        "required": ["sensor"],
    }
    registry_cluster.register_schema(f"{topic}-value", Schema(json.dumps(schema), "JSON"))
    url = f"/clusters/local/topics/{topic}/produce/"
    base = {"mode": "single", "key": "", "encoding": "schema", "subject": f"{topic}-value",
            "schema_version": "1", "partition": "auto", "partitioner": "murmur2"}  # fmt: skip
    bad = operator.post(url, {**base, "value": '{"sensor": "a", "value": "hot"}'})
    assert "value: &#x27;hot&#x27; is not of type" in bad.content.decode()
    good = operator.post(url, {**base, "value": '{"sensor": "a", "value": 1.5}'})
    assert 'id="produce-result"' in good.content.decode()
    records = tail_all(topic, 1)
    assert json.loads(records[0]["value"]["text"]) == {"sensor": "a", "value": 1.5}


def test_schemas_pages_list_subjects_versions_compatibility_and_topics(
    kafka_broker, make_topic, registry_cluster, viewer
) -> None:
    topic = make_topic("schemapage")
    subject = f"{topic}-value"
    registry_cluster.register_schema(subject, Schema(json.dumps(ORDER_V1), "AVRO"))
    registry_cluster.register_schema(subject, Schema(json.dumps(ORDER_V2), "AVRO"))
    registry_cluster.set_compatibility(subject, "BACKWARD")
    listing = viewer.get("/api/clusters/local/schemas/").json()
    row = next(r for r in listing["subjects"] if r["subject"] == subject)
    assert (row["latest_version"], row["type"], row["topic"], row["field"]) == (
        2,
        "AVRO",
        topic,
        "value",
    )
    one = viewer.get(f"/api/clusters/local/schemas/{subject}/?version=1").json()
    assert one["versions"] == [1, 2] and one["version"] == 1
    assert one["compatibility"] == "BACKWARD"
    assert json.loads(one["schema"]) == ORDER_V1
    page = viewer.get(f"/clusters/local/schemas/{subject}/").content.decode()
    assert "&quot;note&quot;" in page and 'data-testid="compatibility">BACKWARD' in page
    assert viewer.get("/clusters/local/schemas/").status_code == 200
    assert viewer.get("/api/clusters/local/schemas/no-such/").status_code == 404
    assert viewer.get(f"/api/clusters/local/schemas/{subject}/?version=x").status_code == 400
    assert viewer.get(f"/api/clusters/local/schemas/{subject}/?version=9").status_code == 404
    down = viewer.get("/api/clusters/noregistry/schemas/")
    assert down.status_code == 503 and "did not answer" in down.json()["error"]["message"]


def test_a_cluster_without_a_registry_has_no_schemas_page(viewer) -> None:
    response = viewer.get("/api/clusters/local/schemas/")
    assert response.status_code == 404
    assert "no Schema Registry configured" in response.json()["error"]["message"]


def test_the_topic_page_names_its_subjects(kafka_broker, make_topic, registry_cluster, viewer):
    topic = make_topic("topicschemas")
    registry_cluster.register_schema(f"{topic}-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    page = viewer.get(f"/clusters/local/topics/{topic}/").content.decode()
    assert f"/clusters/local/schemas/{topic}-value/" in page and "(avro v1)" in page
    down = viewer.get(f"/clusters/noregistry/topics/{topic}/").content.decode()
    assert "the Schema Registry did not answer" in down


def test_bytes_that_do_not_match_the_schema_show_as_hex_with_the_reason(
    kafka_broker, make_topic, registry_cluster
) -> None:
    topic = make_topic("mismatch")
    sid = registry_cluster.register_schema(f"{topic}-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    producer.produce(topic, value=b"\x00" + sid.to_bytes(4, "big") + b"\x08abc", partition=0)
    producer.flush(15)
    (record,) = tail_all(topic, 1)
    assert record["value"]["kind"] == "hex"
    assert record["value"]["schema"]["id"] == sid
    assert "do not match the Avro schema" in record["value"]["schema"]["error"]


def test_a_registry_stopped_mid_tail_shows_hex_then_decodes_again_when_back(
    kafka_broker, make_topic, tmp_path
) -> None:
    # A registry of its own: this test stops it. In-memory storage: registering the same
    # schemas again in the same order gives them the same ids.
    port = free_port()
    registry = LocalRegistry(cache_dir=CACHE_DIR, port=port, log=tmp_path / "registry.log")
    url = registry.start()
    cluster = ClusterConfig(
        name="local",
        bootstrap_servers=kafka_broker.bootstrap_servers,
        schema_registry=RegistryConfig(url=url),
    )
    clusters = type(clusters_for(kafka_broker.bootstrap_servers))(
        by_name={"local": cluster}, default="local", source="environment"
    )
    topic = make_topic("regstop")
    bootstrap = kafka_broker.bootstrap_servers

    def serializers() -> tuple[AvroSerializer, AvroSerializer]:
        client = SchemaRegistryClient({"url": url, "timeout": 10})
        return (
            AvroSerializer(client, json.dumps(ORDER_V1)),
            AvroSerializer(client, json.dumps(ORDER_V2)),
        )

    try:
        with override_settings(KAFKAVIEW_CLUSTERS=clusters):
            v1, v2 = serializers()
            produce_with(bootstrap, topic, v1, [order(1)])
            # v2 is registered while the registry runs, but the tail has not seen its id.
            ctx = SerializationContext(topic, MessageField.VALUE)
            v2_bytes = v2(order(2, note="while down"), ctx)

            async def scenario() -> list[dict]:
                tail = Tail(topic)
                await tail.open()
                await tail.start(start="earliest")
                await tail.collect(1)
                await asyncio.to_thread(registry.stop)
                producer = Producer({"bootstrap.servers": bootstrap})
                producer.produce(topic, value=v2_bytes, partition=0)
                producer.flush(15)
                await tail.collect(2, timeout=30)
                await asyncio.to_thread(registry.start)
                await asyncio.to_thread(serializers)  # the same schemas, the same ids
                again_v1, again_v2 = await asyncio.to_thread(serializers)
                await asyncio.to_thread(again_v1, order(9), ctx)
                await asyncio.to_thread(again_v2, order(9, note="x"), ctx)
                await asyncio.sleep(RETRY_AFTER + 0.5)  # the failed lookup is retried after
                producer.produce(topic, value=v2_bytes, partition=0)
                producer.flush(15)
                records = await tail.collect(3, timeout=30)
                await tail.close()
                return records

            records = run(scenario)
    finally:
        registry.stop()
    first, down, back = records
    assert first["value"]["schema"]["version"] == 1
    assert down["value"]["kind"] == "hex"
    assert down["value"]["schema"]["error"].startswith("the registry did not answer")
    assert back["value"]["kind"] == "json", back["value"]
    assert json.loads(back["value"]["text"])["note"] == "while down"
