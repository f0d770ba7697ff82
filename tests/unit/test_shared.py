"""Shared reads (pure: no Kafka) and list paging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.http import QueryDict

from dashboard.kafka.client.shared import shared_clock, shared_configure, shared_read
from dashboard.kafka.errors import InvalidRequest
from dashboard.web.listing import list_query, paginate
from tests.helpers import SteppedClock


@pytest.fixture(autouse=True)
def sharing() -> Iterator[None]:
    yield
    shared_clock()
    shared_configure(read_max_age=1.0)


def test_concurrent_callers_share_one_read() -> None:
    shared_configure(read_max_age=1.0)
    calls, release = [], threading.Event()

    def read() -> object:
        calls.append(1)
        release.wait(5)
        return object()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(shared_read("k", read)))]
    threads.append(threading.Thread(target=lambda: results.append(shared_read("k", read))))
    for t in threads:
        t.start()
    time.sleep(0.1)
    release.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results[0] is results[1]


def test_a_result_is_reused_until_it_is_older_than_the_max_age() -> None:
    clock = SteppedClock()
    shared_clock(clock.seconds)
    shared_configure(read_max_age=0.2)
    values = iter(range(10))
    first = shared_read("age", lambda: next(values))
    clock.advance(0.19)
    assert shared_read("age", lambda: next(values)) == first
    clock.advance(0.02)
    assert shared_read("age", lambda: next(values)) == first + 1
    assert shared_read("other key", lambda: next(values)) == first + 2


def test_zero_turns_sharing_off() -> None:
    shared_configure(read_max_age=0)
    values = iter(range(10))
    assert [shared_read("off", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_errors_are_shared_by_waiters_but_never_kept() -> None:
    shared_configure(read_max_age=5.0)
    attempts = []

    def failing() -> int:
        attempts.append(1)
        raise RuntimeError("broker down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            shared_read("err", failing)
    assert len(attempts) == 2
    assert shared_read("err", lambda: 7) == 7


def test_a_negative_max_age_is_refused() -> None:
    with pytest.raises(ValueError):
        shared_configure(read_max_age=-1)


@pytest.mark.parametrize(
    ("query", "page", "rows", "total", "pages"),
    [
        ("", 1, list(range(100)), 250, 3),
        ("page=3", 3, list(range(200, 250)), 250, 3),
        ("page=4", 4, [], 250, 3),  # past the end: an empty page, not an error
        ("page=2&limit=1000", 2, [], 250, 1),
        ("limit=7&page=2", 2, list(range(7, 14)), 250, 36),
    ],
)
def test_paging(query: str, page: int, rows: list[int], total: int, pages: int) -> None:
    q = list_query(QueryDict(query), fields=("name",), default="name")
    result = paginate(list(range(250)), q)
    assert (result.page, result.rows, result.total, result.pages) == (page, rows, total, pages)
    assert result.as_json() == {"total": total, "page": page, "limit": q.limit, "pages": pages}


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "page=abc", "limit=0", "limit=1001", "limit=1e3", "page=1.5", "page=²"],
)
def test_bad_page_numbers_are_invalid_requests(query: str) -> None:
    with pytest.raises(InvalidRequest, match="whole number"):
        list_query(QueryDict(query), fields=("name",), default="name")


def test_empty_list_has_one_empty_page() -> None:
    result = paginate([], list_query(QueryDict(""), fields=("name",), default="name"))
    assert (result.rows, result.total, result.pages) == ([], 0, 1)


def test_a_read_is_reused_only_under_the_generation_it_was_made_under() -> None:
    generation = [7]
    shared_configure(read_max_age=60.0, generation=lambda: generation[0])
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return len(calls)

    assert shared_read("k", read) == 1
    assert shared_read("k", read) == 1  # same generation: reused
    generation[0] = 8  # another process wrote
    assert shared_read("k", read) == 2
    assert shared_read("k", read) == 2


def test_an_unknown_generation_shares_nothing() -> None:
    shared_configure(read_max_age=60.0, generation=lambda: None)
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return len(calls)

    assert [shared_read("k", read) for _ in range(3)] == [1, 2, 3]
