"""Generated input (hypothesis) against the produce form and the preview endpoint: never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
text = st.text(max_size=300)
# Text that reaches the server as form data: no NUL (Django refuses it in form fields with a 400).
anything = st.one_of(
    text,
    st.sampled_from(["auto", "0", "1", "-1", "99", "1e3", "", " ", "null", "{}", "[]", "%00"]),
)


@FUZZ
@given(
    mode=st.sampled_from(["single", "bulk", "other", ""]),
    key=anything,
    value=anything,
    encoding=st.sampled_from(["text", "json", "base64", "hex", ""]),
    partition=anything,
    partitioner=st.sampled_from(["murmur2", "crc32", "fnv", ""]),
    headers=anything,
    lines=st.one_of(text, st.lists(text, max_size=5).map("\n".join)),
)
def test_produce_form_never_answers_500(  # noqa: PLR0917 - one argument per field
    operator, make_topic, mode, key, value, encoding, partition, partitioner, headers, lines
) -> None:
    topic = getattr(test_produce_form_never_answers_500, "topic", None)
    if topic is None:
        topic = make_topic("fuzz", partitions=2)
        test_produce_form_never_answers_500.topic = topic  # type: ignore[attr-defined]
    response = operator.post(
        f"/clusters/local/topics/{topic}/produce/",
        {
            "mode": mode,
            "key": key,
            "value": value,
            "encoding": encoding,
            "partition": partition,
            "partitioner": partitioner,
            "headers": headers,
            "lines": lines,
        },
    )
    assert response.status_code in {200, 400}, response.content[:500]


@FUZZ
@given(key=st.one_of(st.none(), text), partitioner=st.one_of(st.none(), text), topic=text)
def test_partition_preview_never_answers_500(operator, key, partitioner, topic) -> None:
    params = {k: v for k, v in {"key": key, "partitioner": partitioner}.items() if v is not None}
    name = topic if topic.strip("/") else "t"
    from urllib.parse import quote

    response = operator.get(f"/api/clusters/local/topics/{quote(name, safe='')}/partition/", params)
    assert response.status_code in {200, 400, 404}, response.content[:500]
    assert response["Content-Type"] == "application/json"


RESET_FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
strategy = st.sampled_from(
    ["earliest", "latest", "offset", "timestamp", "shift", "copy", "offsets", "", "x"]
)


@pytest.fixture
def reset_target(kafka_broker, make_topic):
    """An empty group with commits, made once per test function."""
    from confluent_kafka import Consumer, TopicPartition

    topic = make_topic("fuzz-reset", partitions=2)
    group = f"fuzz-{topic}"
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    consumer.close()
    return topic, group


@RESET_FUZZ
@given(
    action=st.sampled_from(["preview", "apply", "", "x"]),
    strategy=strategy,
    offset=anything,
    timestamp=anything,
    shift=anything,
    source_group=anything,
    topic=anything,
    partitions=anything,
    offsets=anything,
    parameters=anything,
    fingerprint=anything,
)
def test_reset_form_never_answers_500(  # noqa: PLR0917 - one argument per field
    operator,
    reset_target,
    action,
    strategy,
    offset,
    timestamp,
    shift,
    source_group,
    topic,
    partitions,
    offsets,
    parameters,
    fingerprint,
) -> None:
    _, group = reset_target
    response = operator.post(
        f"/clusters/local/groups/{group}/reset/",
        {
            "action": action,
            "strategy": strategy,
            "offset": offset,
            "timestamp": timestamp,
            "shift": shift,
            "source_group": source_group,
            "topic": topic,
            "partitions": partitions,
            "offsets": offsets,
            "parameters": parameters,
            "fingerprint": fingerprint,
        },
    )
    assert response.status_code in {200, 400, 404, 409}, response.content[:500]


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


@RESET_FUZZ
@given(
    body=st.one_of(
        json_value,
        st.fixed_dictionaries(
            {"strategy": strategy, "dry_run": st.one_of(st.booleans(), json_value)},
            optional={
                "offset": json_value,
                "timestamp": json_value,
                "shift": json_value,
                "topic": json_value,
                "partitions": json_value,
                "offsets": json_value,
                "source_group": json_value,
                "fingerprint": json_value,
            },
        ),
    ),
    raw=st.one_of(st.none(), st.binary(max_size=50)),
)
def test_reset_api_never_answers_500(operator, reset_target, body, raw) -> None:
    _, group = reset_target
    data = raw if raw is not None else json.dumps(body)
    response = operator.post(
        f"/api/clusters/local/groups/{group}/reset/", data=data, content_type="application/json"
    )
    assert response.status_code in {200, 207, 400, 404, 409}, response.content[:500]
    assert response["Content-Type"] == "application/json"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.text(min_size=1, max_size=120).filter(lambda s: "\x00" not in s),
    range_=st.one_of(text, st.sampled_from(["15m", "1h", "7d", "", "-1", "9999999d"])),
    kind=st.sampled_from(["groups", "topics"]),
)
def test_history_endpoints_never_answer_500(viewer, name, range_, kind) -> None:
    from urllib.parse import quote, urlencode

    path = (
        f"/api/clusters/local/{kind}/{quote(name, safe='')}/history/?{urlencode({'range': range_})}"
    )
    response = viewer.get(path)
    # Unknown groups have an empty history; invalid topic names are refused.
    assert response.status_code in {200, 400, 404}, response.content[:500]
    if response.status_code == 200:
        assert set(json.loads(response.content)) >= {"times", "ok"}


@pytest.fixture
def operate_target(make_topic):
    return make_topic("fuzz-operate", partitions=2)


OPERATE_FIELDS = {
    "name": json_value,
    "partitions": json_value,
    "replication_factor": json_value,
    "configs": json_value,
    "set": json_value,
    "delete": json_value,
    "count": json_value,
    "mode": st.one_of(st.sampled_from(["all", "offset", "timestamp"]), json_value),
    "value": json_value,
    "topic": json_value,
    "confirm": json_value,
    "fingerprint": json_value,
}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(
        ["create-topic", "configs", "partitions", "purge", "delete", "group", "broker"]
    ),
    # Previews only: a fuzzed apply could delete the topic the other draws need.
    body=st.one_of(
        json_value,
        st.fixed_dictionaries({"dry_run": st.just(True)}, optional=OPERATE_FIELDS),
    ),
    raw=st.one_of(st.none(), st.binary(max_size=50)),
)
def test_operate_endpoints_never_answer_500(
    cluster_admin, operate_target, endpoint, body, raw
) -> None:
    if isinstance(body, dict) and body.get("dry_run") is not True:
        body = {**body, "dry_run": True} if isinstance(body, dict) else body
    paths = {
        "create-topic": "/api/clusters/local/create-topic/",
        "group": "/api/clusters/local/groups/fuzz-group/delete/",
        "broker": "/api/clusters/local/brokers/1/configs/",
    }
    path = paths.get(endpoint, f"/api/clusters/local/topics/{operate_target}/{endpoint}/")
    data = raw if raw is not None else json.dumps(body)
    response = cluster_admin.post(path, data=data, content_type="application/json")
    assert response.status_code in {200, 400, 404, 409, 422}, response.content[:500]
    assert response["Content-Type"] == "application/json"
