"""Template helpers: sortable column headers, state badges, lag emphasis."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.http import HttpRequest
from django.utils.html import format_html

register = template.Library()

STATE_BADGE = {
    "stable": "ok",
    "empty": "",
    "dead": "bad",
    "unknown": "bad",
    "preparing_rebalancing": "warn",
    "completing_rebalancing": "warn",
    "assigning": "warn",
    "reconciling": "warn",
}


@register.simple_tag(takes_context=True)
def sort_header(context: template.Context, field: str, label: str, numeric: bool = False) -> str:
    """A <th> whose link sorts by field, flipping direction when it is already the sort."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    current = context.get("query")
    descending = False
    arrow = ""
    if current is not None and current.sort == field:
        descending = not current.descending
        arrow = " ▼" if current.descending else " ▲"
    elif numeric:
        descending = True  # numbers are most useful biggest first
    params["sort"] = field
    params["dir"] = "desc" if descending else "asc"
    css = "num" if numeric else ""
    aria = ""
    if arrow:
        aria = "ascending" if descending else "descending"  # the current order, not the link's
    return format_html(
        '<th class="{}" {}><a href="?{}">{}{}</a></th>',
        css,
        format_html('aria-sort="{}"', aria) if aria else "",
        params.urlencode(),
        label,
        arrow,
    )


@register.simple_tag(takes_context=True)
def page_link(context: template.Context, page: int) -> str:
    """The current list's query string with ?page= set: filter and sort are kept."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    params["page"] = str(page)
    return "?" + params.urlencode()


@register.filter
def state_badge(state: str) -> str:
    """A badge for a group state (rebalancing states stand out)."""
    return format_html(
        '<span class="badge {}">{}</span>', STATE_BADGE.get(state, ""), state.replace("_", " ")
    )


@register.filter
def lag_class(lag: int | None) -> str:
    """CSS class that makes large lag stand out."""
    if lag is None:
        return "lag-none"
    if lag <= 0:
        return "lag-zero"
    if lag >= 10_000:
        return "lag-high"
    if lag >= 100:
        return "lag-mid"
    return "lag-low"


STATUS_BADGE = {"OK": "ok", "WARN": "warn", "REWIND": "warn", "STALL": "bad", "STOP": "bad"}


@register.filter
def status_badge(status: str) -> str:
    """A badge for a Burrow-style status, linking to the rules; '—' before any sample."""
    if not status:
        return format_html('<span class="muted" title="{}">—</span>', "no samples yet")
    return format_html(
        '<a class="badge {}" href="/help/lag-status/" title="what {} means">{}</a>',
        STATUS_BADGE.get(status, ""),
        status,
        status,
    )


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as a short human duration: 850 ms, 4.2 s, 3 min 5 s, 2 h 10 min, 3 d 4 h."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


@register.filter
def age(moment: datetime | None) -> str:
    """How long ago a moment was, as a duration."""
    if moment is None:
        return "—"
    return duration(max((datetime.now(UTC) - moment).total_seconds(), 0.0))
