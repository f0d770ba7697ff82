"""Producing through the form against the real broker: preview, delivery, bulk, bad input, roles."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from dashboard.kafka.partitioner import partition_for_key
from dashboard.writes.models import AuditRecord
from tests.conftest import roles_ensure
from tests.helpers import unique

pytestmark = pytest.mark.django_db


def read_all(bootstrap: str, topic: str, partitions: int) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("check")})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[Any] = []
    empty = 0
    while empty < 3:
        batch = consumer.consume(100, timeout=0.4)
        empty = empty + 1 if not batch else 0
        out.extend(m for m in batch if not m.error())
    consumer.close()
    return out


def test_preview_promises_the_partition_the_message_lands_on(
    operator, kafka_broker, make_topic
) -> None:
    topic = make_topic("produce", partitions=5)
    for key in ["user-1", "user-7", "ключ"]:
        preview = operator.get(
            f"/api/clusters/local/topics/{topic}/partition/", {"key": key}
        ).json()
        assert preview["partition"] == partition_for_key(key.encode(), 5)
        response = operator.post(
            f"/clusters/local/topics/{topic}/produce/",
            {
                "mode": "single",
                "key": key,
                "value": '{"n": 1}',
                "encoding": "json",
                "partition": "auto",
                "partitioner": "murmur2",
                "headers": "trace: abc\ntrace:\nx: y",
            },
        )
        assert response.status_code == 200, response.content.decode()[:2000]
        delivery = response.context["result"].deliveries[0]
        assert delivery.error is None
        assert delivery.partition == preview["partition"]
        assert (
            f"offset={delivery.offset}&amp;partition={delivery.partition}"
            in response.content.decode()
        )
    messages = read_all(kafka_broker.bootstrap_servers, topic, 5)
    assert len(messages) == 3
    for m in messages:
        assert m.partition() == partition_for_key(m.key(), 5)
        assert m.value() == b'{"n": 1}'
        assert m.headers() == [("trace", b"abc"), ("trace", b""), ("x", b"y")]
    unkeyed = operator.get(f"/api/clusters/local/topics/{topic}/partition/").json()
    assert unkeyed["partition"] is None
    assert "sticky" in unkeyed["explanation"]


def test_chosen_partition_base64_and_crc32(operator, kafka_broker, make_topic) -> None:
    topic = make_topic("produce-b64", partitions=3)
    payload = bytes(range(256))
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": "single",
            "key": "",
            "value": base64.b64encode(payload).decode(),
            "encoding": "base64",
            "partition": "2",
            "partitioner": "crc32",
            "headers": "",
        },
    )
    assert response.context["result"].deliveries[0].partition == 2
    crc = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": "single",
            "key": "user-3",
            "value": "x",
            "encoding": "text",
            "partition": "auto",
            "partitioner": "crc32",
            "headers": "",
        },
    )
    assert crc.context["result"].deliveries[0].partition == partition_for_key(
        b"user-3", 3, partitioner="crc32"
    )
    messages = read_all(kafka_broker.bootstrap_servers, topic, 3)
    binary = [m for m in messages if m.key() is None]
    assert binary[0].value() == payload and binary[0].partition() == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value": "{not json", "encoding": "json"}, "not valid JSON"),
        ({"value": "***", "encoding": "base64"}, "not valid base64"),
        ({"partition": "9"}, "Partition &#x27;9&#x27; does not exist"),
        ({"partition": "-1"}, "does not exist"),
        ({"headers": "no colon here"}, "Header line 1"),
        ({"partitioner": "fnv"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_sent(
    operator, kafka_broker, make_topic, fields, message
) -> None:
    topic = make_topic("produce-bad", partitions=2)
    data = {
        "mode": "single",
        "key": "k",
        "value": "v",
        "encoding": "text",
        "partition": "auto",
        "partitioner": "murmur2",
        "headers": "",
        **fields,
    }
    response = operator.post(f"/clusters/local/topics/{topic}/produce/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert read_all(kafka_broker.bootstrap_servers, topic, 2) == []


def test_a_message_bigger_than_max_message_bytes_is_refused(
    operator, kafka_broker, admin: AdminClient
) -> None:
    topic = unique("small")
    admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "2000"})])[
        topic
    ].result(15)
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": "bulk",
            "lines": "a\tsmall\nb\t" + "x" * 5000 + "\nc\tsmall",
            "partitioner": "murmur2",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 2" in html and "max.message.bytes" in html and "Nothing was sent" in html
    assert read_all(kafka_broker.bootstrap_servers, topic, 1) == []


def test_bulk_lines_and_file(operator, kafka_broker, make_topic) -> None:
    topic = make_topic("bulk", partitions=4)
    lines = "\n".join(
        [
            "user-1\tfirst",
            "",
            '{"key": "user-2", "value": {"deep": [1, 2]}, "headers": {"h": "1"}}',
            '{"key": null, "value": "no key", "headers": [["a", ""], ["a", "2"]]}',
            "a bare value",
        ]
    )
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {"mode": "bulk", "lines": lines, "partitioner": "murmur2"},
    )
    result = response.context["result"]
    assert result.delivered == 4 and result.failed == 0
    assert [d.line for d in result.deliveries] == [1, 3, 4, 5]
    assert sum(result.per_partition.values()) == 4
    upload = SimpleUploadedFile("m.txt", "\n".join(f"k{i}\tv{i}" for i in range(50)).encode())
    from_file = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {"mode": "bulk", "lines": "", "file": upload, "partitioner": "murmur2"},
    )
    assert from_file.context["result"].delivered == 50
    messages = read_all(kafka_broker.bootstrap_servers, topic, 4)
    assert len(messages) == 54
    deep = next(m for m in messages if m.key() == b"user-2")
    assert json.loads(deep.value()) == {"deep": [1, 2]}
    assert deep.partition() == partition_for_key(b"user-2", 4)


def test_bulk_errors_name_their_lines_and_send_nothing(operator, kafka_broker, make_topic) -> None:
    topic = make_topic("bulk-bad")
    lines = 'ok\tfine\n{"key": 5}\n{broken\n{"surprise": 1}'
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/", {"mode": "bulk", "lines": lines}
    )
    assert response.status_code == 400
    html = response.content.decode()
    for part in ["line 2: key must be a string", "line 3: not valid JSON", "line 4: unknown field"]:
        assert part in html
    assert read_all(kafka_broker.bootstrap_servers, topic, 1) == []
    binary = SimpleUploadedFile("b.bin", b"\xff\xfe\x00")
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/", {"mode": "bulk", "file": binary}
    )
    assert "not UTF-8" in response.content.decode()


def test_unknown_topic_is_a_404(operator) -> None:
    response = operator.get(f"/clusters/local/topics/{unique('nope')}/produce/")
    assert response.status_code == 404


def test_produce_is_audited_without_values(operator, user, make_topic) -> None:
    topic = make_topic("audit")
    operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": "single",
            "key": "user-9",
            "value": "top secret value",
            "encoding": "text",
            "partition": "auto",
            "partitioner": "murmur2",
            "headers": "h: secret-header-value",
        },
    )
    record = AuditRecord.objects.get(target=topic)
    assert record.username == user.username
    assert record.action == "produce" and record.status == "done"
    assert record.parameters["keys"] == ["user-9"]
    assert record.parameters["header_names"] == ["h"]
    assert record.result["delivered"] == 1
    stored = json.dumps([record.parameters, record.result])
    assert "top secret value" not in stored and "secret-header-value" not in stored


def test_viewers_get_403_and_no_button(viewer, make_topic) -> None:
    topic = make_topic("viewer")
    assert viewer.get(f"/clusters/local/topics/{topic}/produce/").status_code == 403
    post = viewer.post(f"/clusters/local/topics/{topic}/produce/", {"mode": "single", "value": "x"})
    assert post.status_code == 403
    page = viewer.get(f"/clusters/local/topics/{topic}/").content.decode()
    assert "/produce/" not in page


def test_read_only_turns_producing_off_for_everyone(operator, make_topic) -> None:
    topic = make_topic("ro")
    assert "/produce/" in operator.get(f"/clusters/local/topics/{topic}/").content.decode()
    with override_settings(KAFKAVIEW_READ_ONLY=True):
        response = operator.get(f"/clusters/local/topics/{topic}/produce/")
        assert response.status_code == 403
        assert "read-only" in response.content.decode()
        assert "/produce/" not in operator.get(f"/clusters/local/topics/{topic}/").content.decode()


def test_csrf_stays_on(client, user, make_topic) -> None:
    from django.test import Client

    roles_ensure()
    user.groups.add(Group.objects.get(name="operator"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    topic = make_topic("csrf")
    response = strict.post(
        f"/clusters/local/topics/{topic}/produce/", {"mode": "single", "value": "x"}
    )
    assert response.status_code == 403
