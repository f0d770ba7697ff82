"""History chunks give back exactly what was stored; folding keeps rates, spikes and statuses."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.lag.codec import (
    STATUSES,
    EndsChunkEncoder,
    EndsRound,
    GroupChunkEncoder,
    GroupRound,
    PartitionSample,
    ends_chunks,
    ends_rounds,
    fold_ends,
    fold_group,
    group_chunks,
    group_rounds,
)
from kafkaview.env import EnvError, env_duration, env_tiers

T0 = 1_764_633_600.0  # 2025-12-02 00:00 UTC


def sample(topic: str = "orders", partition: int = 0, **changes: object) -> PartitionSample:
    base = PartitionSample(
        topic=topic,
        partition=partition,
        committed=1_000,
        end_offset=1_200,
        lag=200,
        last_commit_at=T0 - 2.5,
        commits=7,
        lag_seconds_estimate=12.3,
        lag_seconds_at_least=False,
        status="OK",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


CASES = {
    "steady progress": [
        [sample(committed=1_000 + 50 * i, end_offset=1_200 + 60 * i, lag=200 + 10 * i)]
        for i in range(5)
    ],
    "no commit yet, no estimate": [
        [sample(last_commit_at=None, lag_seconds_estimate=None, commits=0)] for _ in range(3)
    ],
    "rewound offset (negative deltas)": [
        [sample(committed=5_000, end_offset=9_000, lag=4_000)],
        [sample(committed=10, end_offset=9_100, lag=9_090, status="REWIND")],
    ],
    "lag not end minus committed (share group)": [
        [sample(committed=0, end_offset=500, lag=3)],
        [sample(committed=0, end_offset=900, lag=0)],
    ],
    "committed past the end (lag clipped to 0)": [[sample(committed=1_300, lag=0)]],
    "every status, at-least flag": [
        [sample(status=s, lag_seconds_at_least=i % 2 == 1)] for i, s in enumerate(STATUSES)
    ],
    "a commit time then none": [[sample()], [sample(last_commit_at=None)], [sample()]],
    "huge offsets": [[sample(committed=2**62, end_offset=2**62 + 5, lag=5)]],
    "two topics, several partitions": [
        [
            sample("a", 0, committed=i),
            sample("a", 1, committed=2 * i),
            sample("b", 0, committed=3 * i, end_offset=10_000),
        ]
        for i in range(4)
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_group_chunk_round_trips_every_value(name: str) -> None:
    rounds = CASES[name]
    keys = [(p.topic, p.partition) for p in rounds[0]]
    enc = GroupChunkEncoder(start=T0, keys=keys)
    for i, parts in enumerate(rounds):
        enc.append(T0 + 10.001 * i, STATUSES[i % len(STATUSES)], parts)
    decoded = group_rounds(enc.blob())
    assert [r.partitions for r in decoded] == [tuple(parts) for parts in rounds]
    assert [r.at for r in decoded] == [
        round((T0 + 10.001 * i) * 1000) / 1000 for i in range(len(rounds))
    ]
    assert [r.status for r in decoded] == [STATUSES[i % len(STATUSES)] for i in range(len(rounds))]


def test_a_round_with_other_partitions_is_refused() -> None:
    enc = GroupChunkEncoder(start=T0, keys=[("orders", 0)])
    with pytest.raises(ValueError, match="partitions differ"):
        enc.append(T0, "OK", [sample(partition=1)])


offsets = st.integers(min_value=0, max_value=2**63 - 1)


@given(
    st.lists(
        st.tuples(
            offsets,
            offsets,
            st.integers(0, 2**40),
            st.one_of(st.none(), st.integers(0, 2**41)),
            st.one_of(st.none(), st.integers(0, 10**9)),
            st.sampled_from(STATUSES),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_values_round_trip(values: list[tuple]) -> None:
    rounds = [
        GroupRound(
            T0 + i,
            status,
            (
                sample(
                    committed=committed,
                    end_offset=end,
                    lag=lag,
                    last_commit_at=None if ms is None else ms / 1000,
                    lag_seconds_estimate=None if ds is None else ds / 10,
                    status=status,
                ),
            ),
        )
        for i, (committed, end, lag, ms, ds, status) in enumerate(values)
    ]
    (blob,) = group_chunks(rounds, 100)
    assert group_rounds(blob) == rounds


def test_chunks_split_when_the_partitions_change_or_they_are_full() -> None:
    one = [GroupRound(T0 + i, "OK", (sample(),)) for i in range(5)]
    two = [GroupRound(T0 + 5 + i, "OK", (sample(), sample(partition=1))) for i in range(3)]
    blobs = group_chunks(one + two, 3)
    assert [len(group_rounds(b)) for b in blobs] == [3, 2, 3]
    assert [r for b in blobs for r in group_rounds(b)] == one + two


def test_end_offsets_round_trip_and_split_on_new_partitions() -> None:
    rounds = [EndsRound(T0 + i, {0: 10 * i, 1: 5 * i}) for i in range(4)]
    rounds.append(EndsRound(T0 + 4, {0: 40, 1: 20, 2: 0}))
    blobs = ends_chunks(rounds, 60)
    assert len(blobs) == 2
    assert [r for b in blobs for r in ends_rounds(b)] == rounds
    enc = EndsChunkEncoder(start=T0, partitions=[0])
    with pytest.raises(ValueError, match="partitions differ"):
        enc.append(T0, {0: 1, 1: 2})


def test_moving_offsets_cost_a_few_bytes_a_sample() -> None:
    # 25 partitions, every offset moving by a varying amount each round, a commit each.
    keys = [("t", p) for p in range(25)]
    enc = GroupChunkEncoder(start=T0, keys=keys)
    for i in range(60):
        parts = [
            sample(
                "t",
                p,
                committed=10_000 * p + 97 * i + (i * p) % 13,
                end_offset=10_000 * p + 100 * i + 40,
                lag=40 + 3 * i - (i * p) % 13 if 40 + 3 * i - (i * p) % 13 > 0 else 0,
                last_commit_at=T0 + 10 * i - (p % 7) * 0.013,
                commits=i,
                lag_seconds_estimate=round(0.4 + (i * p) % 9 / 10, 1),
            )
            for p in range(25)
        ]
        for j, p in enumerate(parts):
            parts[j] = replace(p, lag=max(p.end_offset - p.committed, 0))
        enc.append(T0 + 10 * i, "OK", parts)
    per_sample = len(enc.blob()) / (60 * 25)
    assert per_sample < 8, per_sample


def test_folding_keeps_last_offsets_largest_lag_and_worst_status() -> None:
    rounds = [
        GroupRound(T0, "OK", (sample(committed=100, lag=5, lag_seconds_estimate=1.0),)),
        GroupRound(
            T0 + 10,
            "STALL",
            (sample(committed=100, lag=90, status="STALL", lag_seconds_estimate=30.0),),
        ),
        GroupRound(T0 + 20, "OK", (sample(committed=180, lag=2, lag_seconds_estimate=None),)),
    ]
    folded = fold_group(rounds, T0)
    (p,) = folded.partitions
    assert folded.at == T0 and folded.status == "STALL"
    assert (p.committed, p.lag, p.status, p.lag_seconds_estimate) == (180, 90, "STALL", 30.0)
    # Associative: folding in two passes (a bucket split by a fold run) gives the same point.
    assert fold_group([fold_group(rounds[:2], T0), rounds[2]], T0) == folded
    assert fold_ends([EndsRound(T0, {0: 1}), EndsRound(T0 + 5, {0: 9})], T0) == EndsRound(
        T0, {0: 9}
    )


def test_tiers_and_durations_from_the_environment() -> None:
    assert env_duration({}, "X", "6h") == 21_600
    assert env_tiers({}, "X", "1m:7d,10m:90d") == [(60, 604_800), (600, 7_776_000)]
    for bad, why in [
        ("1m", "bucket:kept"),
        ("1m:7d,90s:90d", "multiple of the bucket before"),
        ("10m:1m", "kept longer"),
        ("1x:7d", "bucket:kept"),
        ("1m:7d,10m:1d", "kept longer"),
    ]:
        with pytest.raises(EnvError, match=why):
            env_tiers({"X": bad}, "X", "1m:7d")
    with pytest.raises(EnvError, match="a duration such as"):
        env_duration({"X": "soon"}, "X", "6h")
