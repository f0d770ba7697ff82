"""Whole numbers from outside (query strings, form fields, websocket frames), checked (pure).

One parser for all of them: Python's int() takes '²' (via isdigit), ' 5 ', '1_000',
floats and strings of any length (4,300 digits and past raise ValueError from the
interpreter's own limit: a 500). Kafka's numbers are 64-bit, so nothing longer than
19 digits is a number we could use.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from dashboard.kafka.errors import InvalidRequest

INT64_MAX = (1 << 63) - 1
# Digits of the longest 64-bit number; anything longer is refused before int() sees it.
MAX_DIGITS = 19


def whole_number_or_none(value: Any) -> int | None:
    """The value as a 64-bit whole number, None when it is not one (no exception)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in {"-", "+"} else text
        if not digits or len(digits) > MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
            return None
        number = int(text)
    else:
        return None
    return number if -INT64_MAX - 1 <= number <= INT64_MAX else None


def whole_number(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number in range; InvalidRequest naming the field otherwise."""
    number = whole_number_or_none(value)
    if number is None:
        raise InvalidRequest(f"{name} must be a whole number, not {str(value)[:40]!r}.")
    if minimum is not None and number < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum:,}.")
    if maximum is not None and number > maximum:
        raise InvalidRequest(f"{name} may be at most {maximum:,}.")
    return number


def timestamp_ms(value: Any) -> int:
    """Milliseconds since the epoch from a number or an ISO 8601 date-time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRequest("timestamp must be a finite number of milliseconds.")
        return whole_number(int(value), "timestamp")
    text = str(value).strip()[:100]
    if text.isascii() and text.lstrip("-").isdigit():
        return whole_number(text, "timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"timestamp {text[:40]!r} is neither milliseconds since the epoch nor an ISO 8601 "
            "date-time such as 2026-11-24T16:00:00Z."
        ) from None
    if parsed.tzinfo is None:
        raise InvalidRequest("timestamp needs a time zone, e.g. 2026-11-24T16:00:00Z.")
    return int(parsed.timestamp() * 1000)
