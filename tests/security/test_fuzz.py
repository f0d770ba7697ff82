"""Generated websocket frames (hypothesis): every frame gets an answer, the socket never dies."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_tail import run
from tests.security.sockets import Socket

pytestmark = pytest.mark.django_db(transaction=True)

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["latest", "earliest", "offset", "timestamp", "last", "now", "all", "1e3"]),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
start_frame = st.fixed_dictionaries(
    {"type": st.just("start")},
    optional={
        k: value
        for k in (
            "start",
            "offset",
            "timestamp",
            "last",
            "partitions",
            "filter",
            "limit",
            "end",
            "max_matches",
        )
    },
)
frame = st.one_of(
    start_frame,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["more", "ack", "pause", "resume", "stop", "x"])},
        optional={"count": value, "seq": value},
    ),
    value,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(frame, min_size=1, max_size=6))
def test_generated_frames_never_kill_the_socket(make_topic, user, frames) -> None:
    topic = getattr(test_generated_frames_never_kill_the_socket, "topic", None)
    if topic is None:
        topic = make_topic("fuzz-frames", partitions=2)
        test_generated_frames_never_kill_the_socket.topic = topic  # type: ignore[attr-defined]

    async def scenario() -> dict:
        tail = Socket(topic, user)
        await tail.open()
        for f in frames:
            # allow_nan: json.dumps writes NaN/Infinity, which the server must refuse.
            await tail.send(json.dumps(f, allow_nan=True))
        await tail.send({"type": "start", "start": "latest"})
        last = await tail.until("started", "closed", timeout=30)
        await tail.close()
        return last

    last = run(scenario)
    assert last["type"] == "started", last
