"""The write generation: a number in the database, bumped after every produce or reset.

Shared reads (dashboard/kafka/client/shared.py) are kept per web process. A write forgets the
writer's own, but the next page may be served by another process: there, a read is
reused only under the generation it was made under, so it is read again after any write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import F
from django.http import HttpRequest, HttpResponse

from dashboard.writes.models import WriteGeneration

logger = logging.getLogger(__name__)
_CURRENT = f"SELECT value FROM {WriteGeneration._meta.db_table} WHERE id = 1"

# Within one request the number is read once (a page makes several shared reads).
_in_request: ContextVar[list[int | None] | None] = ContextVar(
    "kafkaview_write_generation", default=None
)


def generation_current() -> int | None:
    """The current write generation; None when the database cannot say (then nothing is reused)."""
    held = _in_request.get()
    if held is not None and held[0] is not None:
        return held[0]
    try:
        # Plain SQL: the ORM's query building cost ~6x the query itself (py-spy).
        with connection.cursor() as cursor:
            cursor.execute(_CURRENT)
            row = cursor.fetchone()
        value = row[0] if row else 0
    except DatabaseError as exc:
        logger.warning("write generation unreadable, Kafka reads are not reused: %s", exc)
        return None
    except Exception:  # e.g. called on an event loop: read Kafka, share nothing
        return None
    current = value or 0
    if held is not None:
        held[0] = current
    return current


def generation_bump() -> None:
    """After a write: every process's kept reads are from before it."""
    if not WriteGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        WriteGeneration.objects.update_or_create(pk=1, defaults={"value": 1})
    held = _in_request.get()
    if held is not None:
        held[0] = None  # this request's next read looks again


class WriteGenerationMiddleware:
    """Lets a request read the write generation once, however many shared reads it makes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        token = _in_request.set([None])
        try:
            return self.get_response(request)
        finally:
            _in_request.reset(token)
