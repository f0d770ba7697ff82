"""Regular expressions that match in linear time (RE2), for every pattern we did not write.

Python's `re` backtracks: one pattern such as `(a+)+$` against a 40-byte record holds
the GIL for minutes and freezes the whole web process. RE2 (google-re2) matches in time
linear in the text, whatever the pattern, and refuses what it cannot do that way
(backreferences, lookaround). Tail and search filters, masks, access rules and registry
JSON Schema patterns all compile here.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2

# Memory RE2 may use for one compiled pattern; a bigger one is refused, not slowed down.
MAX_MEM = 8 << 20
# Longest pattern accepted (RE2's program grows with it; filters are capped lower).
MAX_PATTERN = 4096


class LinearPattern(Protocol):
    """The part of a compiled pattern we use (re2 ships no type information)."""

    pattern: str

    def search(self, text: Any) -> Any: ...

    def fullmatch(self, text: str) -> Any: ...

    def sub(self, repl: str, text: str) -> str: ...


class PatternError(ValueError):
    """A pattern RE2 cannot match in linear time, or not a pattern at all; says why."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # its own stderr lines; the error is raised to us anyway
    options.max_mem = MAX_MEM
    return options


def linear_compile(text: str, *, as_bytes: bool = False) -> LinearPattern:
    """A compiled RE2 pattern; PatternError naming the problem when RE2 refuses it.

    as_bytes: the pattern matches UTF-8 bytes as they are (record keys and values), with
    no decoding per record: the binding's str path costs ~2.5x as much a search.
    """
    if len(text) > MAX_PATTERN:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN} characters")
    if "\x00" in text:
        raise PatternError("the pattern holds a NUL character")
    try:
        compiled: LinearPattern = re2.compile(text.encode() if as_bytes else text, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise PatternError(
            f"{reason} (patterns run on RE2, in linear time: no backreferences or lookaround)"
        ) from None
    except (TypeError, ValueError) as exc:
        raise PatternError(str(exc)) from None
    return compiled
