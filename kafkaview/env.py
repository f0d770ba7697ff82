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
