"""User regexes: Python's backtracking `re` against RE2 (what filters, masks and JSON Schema
patterns now run on), on patterns that are exponential for a backtracking engine.

    .venv/bin/python bench/regex.py [--max-n 24]

For each pattern and record length n, the time of one search over one record that almost
matches (n characters and a character that breaks the match): `re` doubles with each
character; RE2 stays flat. Then a search's filter over 100,000 ordinary records.
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from collections.abc import Callable
from typing import Any

import _common  # noqa: F401 - puts the project on sys.path

from dashboard.kafka.linear import linear_compile

EVIL = [
    (r"^(a+)+$", lambda n: "a" * n + "!"),
    (r"(a|aa)+$", lambda n: "a" * n + "!"),
    (r"^(\w+\s?)*$", lambda n: "word " * (n // 5) + "!"),
]


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-n", type=int, default=24)
    args = parser.parse_args()
    print(f"{'pattern':<16} {'n':>4} {'re (ms)':>12} {'RE2 (ms)':>10}")
    for pattern, record in EVIL:
        slow, fast = re.compile(pattern), linear_compile(pattern)
        for n in range(16, args.max_n + 1, 4):
            text = record(n)
            python = timed(functools.partial(slow.search, text))
            linear = timed(functools.partial(fast.search, text), repeat=1000)
            print(f"{pattern:<16} {n:>4} {python * 1000:>12.1f} {linear * 1000:>10.4f}")
    # A search's filter: `re` on the decoded text (as before), RE2 on the raw bytes (now).
    records = [
        f'{{"user": "user-{i % 9}", "n": {i}, "note": "ok"}}'.encode() for i in range(100_000)
    ]
    for pattern in (r"user-[37]", r'"n": \d+5,'):
        slow, fast = re.compile(pattern), linear_compile(pattern, as_bytes=True)
        python = timed(functools.partial(count, decoded(slow), records))
        linear = timed(functools.partial(count, fast.search, records))
        print(f"100,000 records {pattern!r}: re {python * 1000:.0f} ms, RE2 {linear * 1000:.0f} ms")


def decoded(pattern: re.Pattern[str]) -> Callable[[bytes], Any]:
    return lambda record: pattern.search(record.decode())


def count(search: Callable[[bytes], Any], records: list[bytes]) -> int:
    return sum(1 for r in records if search(r) is not None)


if __name__ == "__main__":
    main()
