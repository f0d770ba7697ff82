"""A schema author cannot write files (finding 1), nor freeze a process with a pattern."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaReference

from dashboard.kafka.registry.client import decoder_for
from tests.integration.test_tail import Tail, run

pytestmark = pytest.mark.django_db(transaction=True)

DEP = 'syntax = "proto3";\npackage evil;\nmessage Payload { string text = 1; }\n'


def evil_names(tmp: Path) -> list[str]:
    """Reference names that would land outside a temporary folder if used as paths."""
    tag = uuid.uuid4().hex[:8]
    return [
        str(tmp / f"abs-{tag}.pth"),  # absolute
        f"../../../../../../../{tmp.relative_to('/')}/up-{tag}.pth",  # climbing
        f"..\\..\\{tag}.proto",  # backslashes
        f"ok/../../{tag}.proto",  # climbing from inside
    ]


def test_protobuf_reference_names_are_never_paths(
    kafka_broker, make_topic, registry_local, tmp_path, operator
) -> None:
    client = registry_local
    dep_subject = f"dep-{uuid.uuid4().hex[:8]}"
    client.register_schema(dep_subject, Schema(DEP, "PROTOBUF"))
    topic = make_topic("proto-evil")
    ids = []
    for i, name in enumerate(evil_names(tmp_path)):
        text = f'syntax = "proto3";\nimport "{name}";\nmessage Root{i} {{ evil.Payload p = 1; }}\n'
        ref = SchemaReference(name=name, subject=dep_subject, version=1)
        try:
            sid = client.register_schema(f"{topic}-value", Schema(text, "PROTOBUF", [ref]))
        except Exception:  # the registry itself refused this one: nothing to attack with
            continue
        ids.append((sid, name))
    assert ids, "the registry refused every evil reference: the test attacks nothing"
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for sid, _ in ids:
        producer.produce(topic, value=b"\x00" + sid.to_bytes(4, "big") + b"\x00\x0a\x01x")
    assert producer.flush(15) == 0

    async def tail() -> list[dict]:
        t = Tail(topic)
        await t.open()
        await t.start(start="earliest")
        records = await t.collect(len(ids))
        await t.close()
        return records

    records = run(tail)
    for record, (_, name) in zip(records, ids, strict=True):
        error = record["value"]["schema"]["error"]
        assert "is not a relative .proto path" in error, (name, error)
    # Producing with such a subject fails the same way, as a form error (no 500).
    page = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {"mode": "single", "encoding": "schema", "subject": f"{topic}-value", "value": "{}"},
    )
    assert page.status_code in {200, 400} and b"relative .proto path" in page.content
    # Nothing was written anywhere: not beside the test, not where the names point.
    assert not any(p.suffix == ".pth" for p in tmp_path.rglob("*")), list(tmp_path.rglob("*"))
    for _, name in ids:
        assert not Path(name).exists()
        assert not (Path("/") / name.lstrip("./")).exists()
    decoder = decoder_for("local")
    assert decoder is not None


def test_a_registry_json_schema_pattern_runs_in_linear_time(
    make_topic, registry_local, operator
) -> None:
    topic = make_topic("json-evil")
    schema = '{"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}'
    registry_local.register_schema(f"{topic}-value", Schema(schema, "JSON"))
    # 60 a's and a '!': Python's re backtracks 2^60 times on this; RE2 reads it once.
    page = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": "single",
            "encoding": "schema",
            "subject": f"{topic}-value",
            "value": '{"name": "' + "a" * 60 + '!"}',
        },
    )
    assert page.status_code in {200, 400}
    assert b"does not match" in page.content
