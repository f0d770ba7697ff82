"""Burrow-style status rules, lag-seconds interpolation and membership events (pure logic)."""

from __future__ import annotations

import pytest

from dashboard.lag.events import membership_events
from dashboard.lag.rules import (
    LagEstimate,
    Status,
    WindowPoint,
    group_status,
    lag_seconds_estimate,
    partition_status,
)

NOW = 1_000.0
STOP_AFTER = 90.0  # 10 samples, 10 s apart


def window(*rows: tuple[float, int, int, float | None]) -> list[WindowPoint]:
    """(seconds before NOW, committed, lag, seconds-before-NOW of the last commit or None)."""
    return [
        WindowPoint(NOW - ago, committed, lag, None if commit is None else NOW - commit)
        for ago, committed, lag, commit in rows
    ]


CASES = [
    # name, window (oldest first), expected
    ("no samples", [], None),
    ("caught up now", window((20, 10, 5, 20), (10, 10, 5, 10), (0, 15, 0, 0)), Status.OK),
    (
        "caught up now even with an old commit",
        window((20, 10, 0, 500), (0, 10, 0, 500)),
        Status.OK,
    ),
    (
        "lag was zero within the window",
        window((20, 10, 0, 20), (10, 12, 3, 10), (0, 14, 6, 0)),
        Status.OK,
    ),
    (
        "lag shrinking",
        window((20, 10, 50, 20), (10, 40, 30, 10), (0, 70, 10, 0)),
        Status.OK,
    ),
    (
        "lag growing while offsets move",
        window((20, 10, 5, 20), (10, 12, 9, 10), (0, 14, 20, 0)),
        Status.WARN,
    ),
    (
        "lag constant while offsets move (Burrow: not decreasing is WARN)",
        window((20, 10, 5, 20), (10, 12, 5, 10), (0, 14, 5, 0)),
        Status.WARN,
    ),
    (
        "one dip breaks WARN",
        window((30, 10, 5, 30), (20, 12, 9, 20), (10, 20, 3, 10), (0, 22, 8, 0)),
        Status.OK,
    ),
    (
        "committing the same offset while behind",
        window((20, 10, 5, 20), (10, 10, 9, 10), (0, 10, 20, 1)),
        Status.STALL,
    ),
    (
        "no commit for longer than the window while behind",
        window((20, 10, 5, 120), (10, 10, 9, 120), (0, 10, 20, 120)),
        Status.STOP,
    ),
    (
        "STOP checked before any zero lag in the window",
        window((20, 10, 0, 120), (0, 10, 20, 120)),
        Status.STOP,
    ),
    (
        "no commit known: time since the window began",
        window((100, 10, 5, None), (0, 10, 20, None)),
        Status.STOP,
    ),
    (
        "no commit known, window younger than the stop span",
        window((20, 10, 5, None), (0, 10, 20, None)),
        Status.STALL,
    ),
    (
        "offset went back",
        window((20, 50, 5, 20), (10, 30, 25, 10), (0, 32, 30, 0)),
        Status.REWIND,
    ),
    ("a single sample behind, recent commit", window((0, 10, 5, 3)), Status.OK),
    ("a single sample behind, old commit", window((0, 10, 5, 95)), Status.STOP),
]


@pytest.mark.parametrize(("name", "points", "expected"), CASES, ids=[c[0] for c in CASES])
def test_partition_status(name: str, points: list[WindowPoint], expected: Status | None) -> None:
    assert partition_status(points, now=NOW, stop_after=STOP_AFTER) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], None),
        ([None, None], None),
        ([Status.OK, None], Status.OK),
        ([Status.OK, Status.WARN], Status.WARN),
        ([Status.WARN, Status.REWIND, Status.OK], Status.REWIND),
        ([Status.STALL, Status.REWIND], Status.STALL),
        ([Status.STALL, Status.STOP, Status.OK], Status.STOP),
    ],
)
def test_group_status_is_the_worst(statuses: list[Status | None], expected: Status | None) -> None:
    assert group_status(statuses) == expected


POINTS = [(100.0, 0), (110.0, 10), (120.0, 30), (130.0, 30), (140.0, 40)]


@pytest.mark.parametrize(
    ("committed", "end", "now", "expected"),
    [
        (40, 40, 150.0, LagEstimate(0.0, False)),  # caught up
        (0, 40, 150.0, LagEstimate(49.0, False)),  # first of 10 in (100, 110]: 101
        (9, 40, 150.0, LagEstimate(40.0, False)),  # last of them: 110
        (19, 40, 150.0, LagEstimate(35.0, False)),  # 10th of 20 in (110, 120]: 115
        (30, 40, 150.0, LagEstimate(19.0, False)),  # end stayed 30 until 130: 131
        (40, 50, 150.0, LagEstimate(9.0, False)),  # 1st of 10 between 140 and now (150): 141
    ],
)
def test_lag_seconds_interpolates(committed: int, end: int, now: float, expected) -> None:
    got = lag_seconds_estimate(POINTS, committed=committed, end=end, now=now)
    assert got is not None
    assert got.at_least == expected.at_least
    assert got.seconds == pytest.approx(expected.seconds)


def test_lag_seconds_older_than_history_is_a_lower_bound() -> None:
    got = lag_seconds_estimate([(100.0, 500), (110.0, 510)], committed=200, end=510, now=150.0)
    assert got == LagEstimate(50.0, True)


def test_lag_seconds_without_points_is_unknown() -> None:
    assert lag_seconds_estimate([], committed=1, end=5, now=1.0) is None


def test_lag_seconds_after_topic_recreated_uses_the_new_offsets() -> None:
    points = [(100.0, 900), (110.0, 0), (120.0, 10)]
    got = lag_seconds_estimate(points, committed=4, end=10, now=130.0)
    assert got is not None
    assert (got.seconds, got.at_least) == (pytest.approx(15.0), False)


def member(client: str, *tps: str, host: str = "10.0.0.1") -> dict:
    return {"client_id": client, "host": host, "assignment": list(tps)}


def test_membership_events_name_joins_leaves_and_moves() -> None:
    before = {"m-aaaaaaaa1": member("c1", "t/0", "t/1", "t/2")}
    after = {"m-aaaaaaaa1": member("c1", "t/1"), "m-bbbbbbbb2": member("c2", "t/0", "t/2")}
    events = membership_events(
        before_state="stable", before=before, after_state="stable", after=after
    )
    assert events == [
        ("joined", "member joined: c2 (bbbbbbb2) from 10.0.0.1"),
        ("moved", "partitions moved: t 0,2 → c2 (bbbbbbb2)"),
    ]


def test_membership_events_when_the_last_member_leaves() -> None:
    before = {"m1": member("c1", "t/0")}
    events = membership_events(before_state="stable", before=before, after_state="empty", after={})
    assert events == [
        ("state", "state stable → empty"),
        ("left", "member left: c1 (m1)"),
        ("moved", "partitions moved: t 0 → no member (unassigned)"),
    ]


def test_no_change_no_event() -> None:
    snap = {"m1": member("c1", "t/0")}
    assert (
        membership_events(before_state="stable", before=snap, after_state="stable", after=snap)
        == []
    )
