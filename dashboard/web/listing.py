"""Filtering and sorting of list pages (pure; shared by the HTML and JSON views)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.http import QueryDict

T = TypeVar("T")


@dataclass(frozen=True)
class ListQuery:
    """What the user asked of a list: a filter text, a sort field and direction."""

    q: str
    sort: str
    descending: bool


def list_query(params: QueryDict, *, fields: Sequence[str], default: str) -> ListQuery:
    """Read ?q=, ?sort= and ?dir= leniently: unknown values fall back to the defaults."""
    sort = params.get("sort", default)
    if sort not in fields:
        sort = default
    return ListQuery(
        q=params.get("q", "").strip()[:200],
        sort=sort,
        descending=params.get("dir", "asc") == "desc",
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
