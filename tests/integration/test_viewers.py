"""Many viewers: shared Kafka reads counted on the real client, and paged lists."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.http import QueryDict
from django.test import override_settings

from dashboard.access.policy import Scope
from dashboard.browse.selectors import groups_view, topics_view
from dashboard.kafka.client.counters import requests_counted
from dashboard.kafka.client.shared import shared_clock, shared_forget
from tests.helpers import SteppedClock, unique

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock() -> Iterator[SteppedClock]:
    """Reads age only when a test steps this clock; Kafka requests may take their time.

    Sorting the group list by lag describes every group the session broker holds (those
    of every earlier test), twice at once when sharing is off: on a busy machine that has
    outlasted the 3 s request timeout, which is not what these tests count.
    """
    stepped = SteppedClock()
    shared_clock(stepped.seconds)
    with override_settings(KAFKAVIEW_REQUEST_TIMEOUT=30.0):
        yield stepped
    shared_clock()


# No access file: a scope that sees everything.
ALL = Scope(rules=None, groups=frozenset(), superuser=False, user=None)


def sent(fn: Callable[[], object]) -> int:
    """How many Kafka requests fn made the real client send to the test cluster."""
    before = sum(n for (c, _), n in requests_counted().items() if c == "local")
    fn()
    return sum(n for (c, _), n in requests_counted().items() if c == "local") - before


def together(fn: Callable[[], object], n: int = 2) -> list[object]:
    barrier = threading.Barrier(n)
    out: list[object] = []

    def run() -> None:
        barrier.wait()
        out.append(fn())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def group_list_by_lag():
    # Sorted by lag: every group is described, the whole list's read.
    return groups_view(scope=ALL, cluster="local", params=QueryDict("sort=total_lag&dir=desc"))


def measured(check: Callable[[], tuple[int, int]], attempts: int = 3) -> tuple[int, int]:
    """(got, expected) from check(), again while they differ: groups other tests left behind
    may come or go between two reads and change a read's cost by a request or two."""
    for _ in range(attempts):
        got, expected = check()
        if got == expected:
            break
    return got, expected


def test_two_concurrent_requests_cause_one_kafka_read(make_topic) -> None:
    make_topic("viewed")
    with override_settings(KAFKAVIEW_READ_MAX_AGE=1.0):
        views: list[object] = []

        def check() -> tuple[int, int]:
            shared_forget()
            alone = sent(group_list_by_lag)
            assert alone > 0
            shared_forget()
            views[:] = []
            return sent(lambda: views.extend(together(group_list_by_lag))), alone

        got, expected = measured(check)
        assert got == expected
        assert views[0].read_at == views[1].read_at  # type: ignore[attr-defined]


def test_a_read_older_than_the_max_age_is_read_again(clock: SteppedClock) -> None:
    with override_settings(KAFKAVIEW_READ_MAX_AGE=0.3):

        def check() -> tuple[int, int]:
            shared_forget()
            alone = sent(group_list_by_lag)
            clock.advance(0.29)
            assert sent(group_list_by_lag) == 0  # 0.29 s old: still reused
            clock.advance(0.02)
            return sent(group_list_by_lag), alone

        got, expected = measured(check)
        assert got == expected


def test_zero_turns_sharing_off() -> None:
    with override_settings(KAFKAVIEW_READ_MAX_AGE=0):

        def check() -> tuple[int, int]:
            alone = sent(group_list_by_lag)
            return sent(lambda: together(group_list_by_lag)), 2 * alone

        got, expected = measured(check)
        assert got == expected


def test_a_page_reads_only_its_own_topics_watermarks(make_topic) -> None:
    prefix = unique("paged")
    for _ in range(3):
        make_topic(prefix, partitions=2)
    with override_settings(KAFKAVIEW_READ_MAX_AGE=0):
        page = topics_view(
            scope=ALL, cluster="local", params=QueryDict(f"q={prefix}&limit=2&page=2")
        )
    assert page.page.total == 3 and len(page.rows) == 1 and page.page.pages == 2
    assert page.rows[0].messages == 0


@pytest.mark.parametrize("path", ["/api/clusters/local/topics/", "/api/clusters/local/groups/"])
def test_json_lists_are_paged_with_a_total(viewer, kafka_broker, make_topic, path: str) -> None:
    prefix = unique("pagejson")
    for _ in range(3):
        make_topic(prefix)
    kind = "topics" if "topics" in path else "groups"
    # Groups: three that committed on a topic of this test (their ids carry the prefix).
    if kind == "groups":
        topic = make_topic(prefix)
        for i in range(3):
            bootstrap = kafka_broker.bootstrap_servers
            c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-g{i}"})
            c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
            c.close()
    first = viewer.get(f"{path}?q={prefix}&limit=2").json()
    assert (first["total"], first["page"], first["limit"], first["pages"]) == (3, 1, 2, 2)
    assert len(first[kind]) == 2
    second = viewer.get(f"{path}?q={prefix}&limit=2&page=2").json()
    assert len(second[kind]) == 1
    names = {r["name" if kind == "topics" else "group"] for r in first[kind] + second[kind]}
    assert len(names) == 3
    past = viewer.get(f"{path}?q={prefix}&limit=2&page=9")
    assert past.status_code == 200 and past.json()[kind] == []
    for bad in ("page=0", "page=x", "limit=0", "limit=100000", "page=-3"):
        answer = viewer.get(f"{path}?{bad}")
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["type"] == "invalid_request"
        page = viewer.get(f"{path.replace('/api', '')}?{bad}")
        assert page.status_code == 400, bad


def test_the_group_list_fetches_offsets_in_one_request_per_coordinator(
    kafka_broker, make_topic
) -> None:
    from dashboard.kafka.groups.lag import group_list
    from dashboard.kafka.groups.read import FETCH_GROUPS_PER_REQUEST, groups_listing

    prefix = unique("batched")
    topic = make_topic(prefix, partitions=2)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for n in range(20):
        producer.produce(topic, value=b"x", partition=n % 2)
    producer.flush(15)
    for i in range(4):
        c = Consumer(
            {"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": f"{prefix}-{i}"}
        )
        c.commit(
            offsets=[TopicPartition(topic, 0, i), TopicPartition(topic, 1, 2 * i)],
            asynchronous=False,
        )
        c.close()

    def fetches() -> int:
        return sum(
            n
            for (c, call), n in requests_counted().items()
            if c == "local" and call == "OffsetFetch"
        )

    def check() -> tuple[int, int]:
        listed = [g for g in groups_listing(cluster="local").groups if g.type != "share"]
        before = fetches()
        group_list(cluster="local")
        # One broker coordinates every group: one request per 500 groups, not one per group.
        return fetches() - before, -(-len(listed) // FETCH_GROUPS_PER_REQUEST)

    got, expected = measured(check)
    assert got == expected
    rows = {g.group: g for g in group_list(cluster="local").groups if g.group.startswith(prefix)}
    # The batched answer gives each group its own offsets: 10 - i and 10 - 2i behind.
    assert {g: (r.total_lag, r.partitions) for g, r in rows.items()} == {
        f"{prefix}-{i}": (20 - 3 * i, 2) for i in range(4)
    }
