"""Filtering and sorting of list pages (pure; shared by the HTML and JSON views)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.http import QueryDict

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.numbers import whole_number_or_none

T = TypeVar("T")

MAX_LIMIT = 1000


@dataclass(frozen=True)
class ListQuery:
    """What the user asked of a list: a filter text, a sort field and direction."""

    q: str
    sort: str
    descending: bool
    page: int = 1
    limit: int = 100


@dataclass(frozen=True)
class Page:
    """One page of a filtered, sorted list, and where it sits in the whole."""

    rows: list[Any]
    total: int  # rows matching the filter, on every page
    page: int
    limit: int

    @property
    def pages(self) -> int:
        """How many pages the filtered list has (at least 1)."""
        return max((self.total + self.limit - 1) // self.limit, 1)

    def as_json(self) -> dict[str, int]:
        """The paging fields every list answer carries."""
        return {"total": self.total, "page": self.page, "limit": self.limit, "pages": self.pages}


def _positive(params: QueryDict, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    number = whole_number_or_none(raw) if raw.isdigit() else None
    if number is None or not 1 <= number <= maximum:
        raise InvalidRequest(
            f"?{name}= must be a whole number from 1 to {maximum:,}, not {raw[:50]!r}."
        )
    return number


def list_query(
    params: QueryDict, *, fields: Sequence[str], default: str, limit: int = 100
) -> ListQuery:
    """Read ?q=, ?sort= and ?dir= leniently (unknown values fall back to the defaults), and
    ?page= / ?limit= strictly: a bad number is a 400, a page past the end is empty."""
    sort = params.get("sort", default)
    if sort not in fields:
        sort = default
    return ListQuery(
        q=params.get("q", "").strip()[:200],
        sort=sort,
        descending=params.get("dir", "asc") == "desc",
        page=_positive(params, "page", 1, 10**6),
        limit=_positive(params, "limit", limit, MAX_LIMIT),
    )


def paginate(rows: Sequence[T], query: ListQuery) -> Page:
    """The asked page of rows already filtered and sorted."""
    start = (query.page - 1) * query.limit
    return Page(
        rows=list(rows[start : start + query.limit]),
        total=len(rows),
        page=query.page,
        limit=query.limit,
    )


def apply(rows: Sequence[T], query: ListQuery, *, name_field: str) -> list[T]:
    """Rows whose name contains the filter text (case-insensitive), sorted as asked."""
    needle = query.q.lower()
    chosen = [r for r in rows if needle in str(getattr(r, name_field)).lower()]

    def key(row: Any) -> tuple[Any, str]:
        value = getattr(row, query.sort)
        if isinstance(value, tuple | list):
            value = len(value)
        if value is None:
            value = -1  # unknown sorts before every known number
        # The name breaks ties, so equal values keep a stable, readable order.
        return (value, str(getattr(row, name_field)))

    return sorted(chosen, key=key, reverse=query.descending)
