"""Reset planning (pure): every strategy's new offset, clamping, and what is left out."""

from __future__ import annotations

import pytest

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.offsets import ResetRequest, reset_rows

KEYS = [("t", 0), ("t", 1)]
MARKS = {("t", 0): (10, 100), ("t", 1): (0, 50)}
CURRENT = {("t", 0): 40}  # partition 1 has no committed offset


def new_offsets(request: ResetRequest, **kw: object) -> dict[tuple[str, int], int]:
    rows, _ = reset_rows(request=request, keys=KEYS, current=CURRENT, marks=MARKS, **kw)  # type: ignore[arg-type]
    return {(r.topic, r.partition): r.new for r in rows}


def test_earliest_and_latest_are_the_watermarks() -> None:
    assert new_offsets(ResetRequest(strategy="earliest")) == {("t", 0): 10, ("t", 1): 0}
    assert new_offsets(ResetRequest(strategy="latest")) == {("t", 0): 100, ("t", 1): 50}


def test_an_offset_outside_the_log_is_clamped_and_marked() -> None:
    rows, _ = reset_rows(
        request=ResetRequest(strategy="offset", offset=75), keys=KEYS, current=CURRENT, marks=MARKS
    )
    by_key = {(r.topic, r.partition): r for r in rows}
    assert (by_key[("t", 0)].new, by_key[("t", 0)].clamped) == (75, False)
    assert (by_key[("t", 1)].new, by_key[("t", 1)].clamped) == (50, True)


def test_lag_before_and_after() -> None:
    rows, _ = reset_rows(
        request=ResetRequest(strategy="earliest"), keys=KEYS, current=CURRENT, marks=MARKS
    )
    first = rows[0]
    assert (first.lag_before, first.lag_after) == (60, 90)
    assert rows[1].lag_before is None  # nothing committed: no lag, as kafka-consumer-groups


def test_shift_leaves_out_partitions_without_a_commit() -> None:
    rows, notes = reset_rows(
        request=ResetRequest(strategy="shift", shift=-100), keys=KEYS, current=CURRENT, marks=MARKS
    )
    assert [(r.partition, r.new, r.clamped) for r in rows] == [(0, 10, True)]
    assert notes == ("t-1: no committed offset to shift from; left out.",)


def test_timestamp_without_a_message_after_it_goes_to_the_end() -> None:
    got = new_offsets(ResetRequest(strategy="timestamp"), by_time={("t", 0): 20, ("t", 1): -1})
    assert got == {("t", 0): 20, ("t", 1): 50}


def test_copy_takes_the_other_groups_offsets() -> None:
    rows, notes = reset_rows(
        request=ResetRequest(strategy="copy", source_group="other"),
        keys=KEYS,
        current=CURRENT,
        marks=MARKS,
        source={("t", 1): 7},
    )
    assert [(r.partition, r.new) for r in rows] == [(1, 7)]
    assert "'other' has no committed offset there" in notes[0]


def test_explicit_offsets_touch_only_the_named_partitions() -> None:
    got = new_offsets(ResetRequest(strategy="offsets", offsets=(("t", 1, 5),)))
    assert got == {("t", 1): 5}


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="strategy must be one of"):
        new_offsets(ResetRequest(strategy="sideways"))
