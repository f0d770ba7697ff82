"""Reading settings from environment variables: each is checked once, at start-up.

A bad value stops start-up with the variable's name, the value and what is expected,
instead of a bare ValueError deep in a request or a setting silently read as "off".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class EnvError(ValueError):
    """An environment variable holds a value kafkaview cannot use; names it and the value."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"{name}={value!r}: {expected}")


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off variable: 1/true/yes/on or 0/false/no/off (any case); anything else is an error."""
    value = _raw(env, name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise EnvError(name, value, "expected one of 1, true, yes, on, 0, false, no, off")


def env_float(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    above: float | None = None,
) -> float:
    """A number of seconds, days, ...; checked against a lower bound."""
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(name, value, "expected a number") from None
    if not math.isfinite(number):
        raise EnvError(name, value, "expected a finite number")
    if minimum is not None and number < minimum:
        raise EnvError(name, value, f"expected a number of at least {minimum:g}")
    if above is not None and number <= above:
        raise EnvError(name, value, f"expected a number above {above:g}")
    return number


def env_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A whole number within bounds."""
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(name, value, "expected a whole number") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, value, f"expected a whole number of at least {minimum}")
    if maximum is not None and number > maximum:
        raise EnvError(name, value, f"expected a whole number of at most {maximum}")
    return number


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """A string (surrounding blanks removed); the default when unset or blank."""
    value = _raw(env, name)
    return default if value is None else value


def env_list(env: Mapping[str, str], name: str, default: str) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    return [item.strip() for item in env_str(env, name, default).split(",") if item.strip()]


def env_path(env: Mapping[str, str], name: str, default: Path) -> Path:
    """A folder or file path."""
    value = _raw(env, name)
    return default if value is None else Path(value)


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of a few words (compared case-insensitively, returned as listed)."""
    value = _raw(env, name)
    if value is None:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise EnvError(name, value, f"expected one of {', '.join(choices)}")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float | None:
    """'90s', '1m', '6h', '7d' as seconds; None when it is not one."""
    unit = _UNITS.get(text[-1:].lower())
    try:
        number = float(text[:-1]) if unit else float("nan")
    except ValueError:
        return None
    return number * unit if unit and math.isfinite(number) and number > 0 else None


def env_duration(env: Mapping[str, str], name: str, default: str) -> float:
    """A duration such as 90s, 30m, 6h or 7d, in seconds."""
    value = _raw(env, name) or default
    seconds = _duration(value)
    if seconds is None:
        raise EnvError(name, value, "expected a duration such as 90s, 30m, 6h or 7d")
    return seconds


def env_tiers(env: Mapping[str, str], name: str, default: str) -> list[tuple[float, float]]:
    """Downsampling tiers 'bucket:kept,...' (e.g. 1m:7d,10m:90d) as (bucket, kept) seconds.

    Each tier's bucket must be a multiple of the one before and kept longer, so a bucket
    folds whole buckets of the tier before.
    """
    value = _raw(env, name) or default
    tiers: list[tuple[float, float]] = []
    for item in value.split(","):
        bucket_text, _, keep_text = item.strip().partition(":")
        bucket, keep = _duration(bucket_text), _duration(keep_text)
        if bucket is None or keep is None:
            raise EnvError(name, value, f"{item.strip()!r}: expected bucket:kept such as 1m:7d")
        if bucket != int(bucket) or keep <= bucket:
            raise EnvError(name, value, f"{item.strip()!r}: a whole-second bucket, kept longer")
        if tiers and (bucket % tiers[-1][0] or keep <= tiers[-1][1]):
            raise EnvError(
                name, value, f"{item.strip()!r}: a multiple of the bucket before, kept longer"
            )
        tiers.append((bucket, keep))
    return tiers
