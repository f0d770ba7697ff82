"""Generated input (hypothesis) against the produce form and the preview endpoint: never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
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


@pytest.fixture
def operator(client, user):
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    return client


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
