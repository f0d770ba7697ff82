"""Export a range, import it back: byte for byte on the real broker; masks, scope, bad files."""

from __future__ import annotations

import csv
import io
import json

import pytest
from asgiref.sync import async_to_sync
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from dashboard.access.rules import access_parse
from dashboard.kafka.tail.request import tail_request
from dashboard.writes.exchange import export_audited
from dashboard.writes.models import AuditRecord
from tests.helpers import RECENT_MS, unique

pytestmark = pytest.mark.django_db

# Binary, empty and null keys and values, repeated header names, binary header values.
RECORDS = [
    (0, b"k1", b"plain text", [("h", b"1"), ("h", b"2")], RECENT_MS + 1),
    (0, None, b"\x00\xff\xfe binary", [("bin", b"\x80\x81")], RECENT_MS + 2),
    (1, b"", b"", [], RECENT_MS + 3),
    (1, b"k2", None, [("empty", b"")], RECENT_MS + 4),
    (
        2,
        b"\xc3\x28",
        b'{"card": {"number": "4111111111111111"}, "cvv": "123"}',
        [],
        RECENT_MS + 5,
    ),
]


def fill(bootstrap: str, topic: str, records=RECORDS) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, key, value, headers, ts in records:
        producer.produce(
            topic, key=key, value=value, headers=headers or None, partition=partition, timestamp=ts
        )
    assert producer.flush(30) == 0, "records not delivered within 30 s"


def read_all(bootstrap: str, topic: str, partitions: int = 3) -> dict[int, list[tuple]]:
    """Every record of the topic, per partition: (key, value, headers, timestamp)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("judge"), "enable.partition.eof": True}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: dict[int, list[tuple]] = {p: [] for p in range(partitions)}
    ended: set[int] = set()
    while len(ended) < partitions:
        msg = consumer.poll(10)
        assert msg is not None, "the judge's consumer got nothing for 10 s"
        partition = int(msg.partition() or 0)
        error = msg.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            continue  # a transient client error (a busy broker): not the end
        if error is not None:
            ended.add(partition)
            continue
        out[partition].append((msg.key(), msg.value(), msg.headers() or [], msg.timestamp()[1]))
    consumer.close()
    return out


def body_of(answer) -> bytes:
    """A download's bytes, read as the server sends them (an async iterator)."""

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in answer.streaming_content])

    return async_to_sync(collect)()


def export(client, topic: str, **query) -> bytes:
    answer = client.get(f"/api/clusters/local/topics/{topic}/export/", query)
    assert answer.status_code == 200, answer.content
    return body_of(answer)


def import_file(client, topic: str, data: bytes, **fields):
    upload = SimpleUploadedFile("export.ndjson", data, content_type="application/x-ndjson")
    return client.post(f"/api/clusters/local/topics/{topic}/import/", {"file": upload, **fields})


@pytest.fixture
def source(kafka_broker, make_topic):
    topic = make_topic("export", partitions=3)
    fill(kafka_broker.bootstrap_servers, topic)
    return topic


@pytest.mark.parametrize("fmt", ["lossless", "ndjson"])
def test_an_export_imported_into_a_new_topic_is_equal_byte_for_byte(
    kafka_broker, make_topic, source, operator, fmt
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    data = export(operator, source, format=fmt)
    assert len(data.splitlines()) == len(RECORDS)
    target = make_topic("imported", partitions=3)
    preview = import_file(operator, target, data, format=fmt, dry_run="1")
    assert preview.status_code == 200, preview.content
    assert preview.json()["records"] == len(RECORDS)
    assert read_all(bootstrap, target) == {0: [], 1: [], 2: []}  # a dry run sends nothing
    sent = import_file(operator, target, data, format=fmt, dry_run="0")
    assert sent.status_code == 200, sent.content
    assert (sent.json()["delivered"], sent.json()["failed"]) == (len(RECORDS), 0)
    assert read_all(bootstrap, target) == read_all(bootstrap, source)
    record = AuditRecord.objects.get(pk=sent.json()["audit_id"])
    assert (record.action, record.status, record.result["delivered"]) == ("import", "done", 5)
    exported = AuditRecord.objects.filter(action="export", target=source).latest("id")
    assert exported.result["matched"] == len(RECORDS)
    assert exported.status == "done"


def test_ndjson_shows_text_and_csv_keeps_spreadsheets_from_running_cells(
    kafka_broker, make_topic, operator
) -> None:
    topic = make_topic("texts")
    fill(
        kafka_broker.bootstrap_servers,
        topic,
        [
            (0, b"=HYPERLINK(1)", b"caf\xc3\xa9", [("h", b"v")], RECENT_MS + 5),
            (0, b"k", b"\xff", [], RECENT_MS + 6),
        ],
    )
    lines = [json.loads(line) for line in export(operator, topic, format="ndjson").splitlines()]
    assert lines[0]["key"] == "=HYPERLINK(1)" and lines[0]["value"] == "café"
    assert lines[0]["headers"] == [["h", "v"]]
    assert lines[1]["value"] == {"base64": "/w=="}
    rows = list(csv.reader(io.StringIO(export(operator, topic, format="csv").decode())))
    assert rows[0][:6] == ["partition", "offset", "timestamp", "timestamp_type", "key", "value"]
    assert rows[1][4] == "'=HYPERLINK(1)" and rows[1][5] == "café"
    assert rows[2][5] == "base64:/w=="


def test_a_range_and_a_filter_choose_the_records(source, operator) -> None:
    lines = export(operator, source, format="ndjson", partitions="0", end="offset", end_offset=1)
    assert [json.loads(line)["key"] for line in lines.splitlines()] == ["k1"]
    found = export(operator, source, format="ndjson", q="binary")
    assert len(found.splitlines()) == 1


MASKED = r"""
[[rules]]
groups = ["team"]
topics = ["export.*", "imported.*"]
actions = ["view", "export"]

[[masks]]
topics = ["export.*"]
json_fields = ["card.number", "cvv"]
"""


def test_masks_hold_in_every_format_and_lossless_is_refused(source, client, user) -> None:
    user.groups.add(Group.objects.get_or_create(name="team")[0])
    client.force_login(user)
    with override_settings(KAFKAVIEW_ACCESS=access_parse(MASKED, source="access.toml")):
        for fmt in ("ndjson", "csv"):
            data = export(client, source, format=fmt)
            assert b"4111111111111111" not in data and b"123" not in data
            assert b"***" in data
        refused = client.get(f"/api/clusters/local/topics/{source}/export/", {"format": "lossless"})
        assert refused.status_code == 400
        assert "masked" in refused.json()["error"]["message"]
        # view and export only: no import.
        sent = import_file(client, source, b'{"value": null}\n', format="lossless", dry_run="0")
        assert sent.status_code == 403


def test_scope_hides_and_refuses(source, client, user, make_topic) -> None:
    hidden = make_topic("secret")
    user.groups.add(Group.objects.get_or_create(name="team")[0])
    client.force_login(user)
    rules = MASKED.replace('actions = ["view", "export"]', 'actions = ["view"]')
    with override_settings(KAFKAVIEW_ACCESS=access_parse(rules, source="access.toml")):
        path = "/api/clusters/local/topics/{}/export/"
        assert client.get(path.format(source)).status_code == 403
        assert client.get(path.format(hidden)).status_code == 404


def test_a_file_that_does_not_parse_names_its_line_and_sends_nothing(
    kafka_broker, make_topic, operator
) -> None:
    topic = make_topic("bad-import")
    good = json.dumps({"partition": 0, "key": None, "value": "aGk=", "headers": []})
    data = "\n".join([good, good, '{"value": "not base64!"}', good]).encode()
    answer = import_file(operator, topic, data, format="lossless", dry_run="0")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("Line 3: value is not valid base64")
    wrong_partition = json.dumps({"partition": 7, "value": "aGk="}).encode()
    answer = import_file(operator, topic, wrong_partition, format="lossless", dry_run="0")
    assert "partition 7 does not exist" in answer.json()["error"]["message"]
    assert read_all(kafka_broker.bootstrap_servers, topic, partitions=1) == {0: []}
    assert not AuditRecord.objects.filter(action="import", target=topic).exists()


def test_read_only_mode_refuses_an_import(source, operator) -> None:
    with override_settings(KAFKAVIEW_READ_ONLY=True):
        answer = import_file(operator, source, b'{"value": null}\n', dry_run="0")
        assert answer.status_code == 403


def test_a_download_closed_early_stops_the_read_and_says_so(
    kafka_broker, make_topic, operator, user
) -> None:
    topic = make_topic("big-export")
    rows: list[tuple] = [(0, f"k{i}".encode(), b"x" * 1000, [], RECENT_MS + i) for i in range(3000)]
    fill(kafka_broker.bootstrap_servers, topic, rows)
    answer = operator.get(f"/api/clusters/local/topics/{topic}/export/", {"format": "lossless"})
    assert answer["X-Records-In-Range"] == "3000"
    assert len(body_of(answer).splitlines()) == 3000
    # The reader goes away after one chunk: the server closes the stream (the generator).
    total, stream, finish = export_audited(
        user=user,
        cluster="local",
        request=tail_request(topic=topic, params={"start": "earliest", "end": "now"}),
        fmt="lossless",
        masker=None,
        decode=False,
    )
    assert total == 3000
    assert next(stream)
    stream.close()
    finish()  # what export_body does when the download is closed
    record = AuditRecord.objects.filter(action="export", target=topic).latest("id")
    assert record.status == "partial"
    assert record.result["finished"] == "cut off by the reader"
    assert 0 < record.result["matched"] < 3000
