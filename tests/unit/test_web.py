"""Listing, template tags, the JSON error shape and jsonutil (pure: no broker, no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.template import Context, Template
from django.test import RequestFactory

from dashboard.kafka.errors import (
    ClusterNotFound,
    ClusterUnavailable,
    GroupNotEmpty,
    InvalidRequest,
    TopicNotFound,
)
from dashboard.templatetags.kafkaview import age, duration, lag_class, status_badge
from dashboard.web.errors import problem_of, wants_json
from dashboard.web.jsonutil import to_json
from dashboard.web.listing import apply, list_query


@dataclass(frozen=True)
class Row:
    name: str
    size: int | None
    tags: tuple[str, ...] = ()


ROWS = [Row("beta", 3), Row("Alpha", 10, ("x", "y")), Row("gamma", None), Row("alps", 3)]


def test_list_query_falls_back_to_defaults_for_unknown_values() -> None:
    query = list_query(
        QueryDict("sort=evil&dir=sideways&q=  al "), fields=("name",), default="name"
    )
    assert (query.q, query.sort, query.descending) == ("al", "name", False)


def test_filter_is_case_insensitive_and_sort_breaks_ties_by_name() -> None:
    query = list_query(
        QueryDict("q=AL&sort=size&dir=desc"), fields=("name", "size"), default="name"
    )
    assert [r.name for r in apply(ROWS, query, name_field="name")] == ["Alpha", "alps"]
    ascending = list_query(QueryDict("sort=size"), fields=("name", "size"), default="name")
    # Unknown (None) sorts before every number; equal sizes are ordered by name.
    assert [r.name for r in apply(ROWS, ascending, name_field="name")] == [
        "gamma",
        "alps",
        "beta",
        "Alpha",
    ]


def test_tuples_sort_by_their_length() -> None:
    query = list_query(QueryDict("sort=tags&dir=desc"), fields=("tags",), default="tags")
    assert apply(ROWS, query, name_field="name")[0].name == "Alpha"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.25, "250 ms"),
        (4.24, "4.2 s"),
        (185, "3 min 5 s"),
        (7800, "2 h 10 min"),
        (273600, "3 d 4 h"),
    ],
)
def test_duration(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_age_of_a_moment() -> None:
    assert age(None) == "—"
    assert age(datetime.now(UTC) - timedelta(minutes=3, seconds=5)) in {"3 min 5 s", "3 min 6 s"}
    assert age(datetime.now(UTC) + timedelta(hours=1)).endswith("ms")  # clock skew: not negative


@pytest.mark.parametrize(
    ("lag", "css"),
    [(None, "lag-none"), (0, "lag-zero"), (5, "lag-low"), (100, "lag-mid"), (10_000, "lag-high")],
)
def test_lag_class(lag: int | None, css: str) -> None:
    assert lag_class(lag) == css


def test_status_badge_escapes_and_links_to_the_rules() -> None:
    assert "no samples yet" in status_badge("")
    badge = status_badge("STOP")
    assert 'href="/help/lag-status/"' in badge and 'class="badge bad"' in badge
    assert "<script>" not in status_badge("<script>")


def test_state_badge_escapes_hostile_text() -> None:
    html = Template("{% load kafkaview %}{{ s|state_badge }}").render(Context({"s": "<b>x_y"}))
    assert "&lt;b&gt;x y" in html


def test_sort_header_flips_the_direction_of_the_current_sort() -> None:
    request = RequestFactory().get("/groups/?sort=total_lag&dir=desc&q=a")
    query = list_query(request.GET, fields=("total_lag",), default="total_lag")
    html = Template('{% load kafkaview %}{% sort_header "total_lag" "Lag" numeric=True %}').render(
        Context({"request": request, "query": query})
    )
    assert "dir=asc" in html and "q=a" in html and 'aria-sort="descending"' in html


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ClusterNotFound("x"), 404, "cluster_not_found"),
        (TopicNotFound(cluster="c", topic="t"), 404, "topic_not_found"),
        (GroupNotEmpty("busy"), 409, "group_not_empty"),
        (InvalidRequest("bad"), 400, "invalid_request"),
    ],
)
def test_every_error_has_one_status_and_type(error: Exception, status: int, kind: str) -> None:
    problem = problem_of(error)  # type: ignore[arg-type]
    assert (problem.status, problem.type, problem.message) == (status, kind, str(error))


def test_json_body_and_websocket_frame_carry_the_same_fields() -> None:
    problem = problem_of(
        ClusterUnavailable(cluster="prod", bootstrap_servers="k:9092", detail="timed out")
    )
    body, frame = problem.body(), problem.frame()
    assert body["type"] == frame["error"] == "cluster_unavailable"
    assert frame["type"] == "error"
    for name in ("message", "cluster", "tried", "detail"):
        assert body[name] == frame[name]
    assert (body["cluster"], body["tried"]) == ("prod", "k:9092")


def test_json_lives_under_api_and_metrics() -> None:
    factory = RequestFactory()
    assert wants_json(factory.get("/api/clusters/local/"))
    assert wants_json(factory.get("/metrics"))
    assert not wants_json(factory.get("/clusters/local/"))


def test_to_json_converts_nested_dataclasses_dates_and_tuples() -> None:
    moment = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    assert to_json({"r": Row("a", 1, ("x",)), 3: moment}) == {
        "r": {"name": "a", "size": 1, "tags": ["x"]},
        "3": "2026-11-25T01:02:03+00:00",
    }
