"""A tail's server-side filter: substring on the raw bytes, or a regular expression on RE2
over the text as shown (pure logic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.linear import linear_compile
from dashboard.kafka.render import searchable

FILTER_ON = ("any", "key", "value", "header")


@dataclass(frozen=True)
class TailFilter:
    """A server-side filter on key, value or either: substring or regular expression."""

    text: str = ""
    regex: bool = False
    on: str = "any"

    def matcher(self) -> Callable[[bytes | None, bytes | None, Any], bool] | None:
        """A predicate over (key, value, headers), or None when nothing is filtered."""
        if not self.text:
            return None
        if self.regex:
            # RE2: linear in the text whatever the pattern, so no filter can hold the
            # poll thread (and with it the web process's GIL) on one record.
            pattern = linear_compile(self.text)
            if self.on != "header" and "\ufffd" not in self.text:
                return _regex_bytes_matcher(linear_compile(self.text, as_bytes=True), self.on)

            def found(s: str) -> bool:
                return pattern.search(s) is not None
        else:
            needle = self.text

            def found(s: str) -> bool:
                return needle in s

            if self.on != "header" and "\ufffd" not in needle:
                return _bytes_matcher(needle.encode(), self.on)

        on = self.on

        def match(key: bytes | None, value: bytes | None, headers: Any = None) -> bool:
            if on == "header":
                # A header matches by its name or its value ("name: value" as shown).
                return any(found(f"{name}: {searchable(raw)}") for name, raw in (headers or ()))
            if on in ("any", "key") and found(searchable(key)):
                return True
            return on in ("any", "value") and found(searchable(value))

        return match

    def message_matcher(self) -> Callable[[Any], bool] | None:
        """matcher() over a consumed message: asks it only for the parts the filter reads."""
        match = self.matcher()
        if match is None:
            return None
        # Each accessor of a confluent-kafka message copies bytes: a search calls it
        # half a million times, so skip the ones the filter would not look at, and
        # inline the raw-bytes substring test (one call a message, not two).
        if not self.regex and self.on != "header" and "\ufffd" not in self.text:
            needle = self.text.encode()  # see _bytes_matcher for why bytes suffice
            if self.on == "value":
                return lambda msg: (v := msg.value()) is not None and needle in v
            if self.on == "key":
                return lambda msg: (k := msg.key()) is not None and needle in k
            return lambda msg: (
                ((k := msg.key()) is not None and needle in k)
                or ((v := msg.value()) is not None and needle in v)
            )
        if self.on == "header":
            return lambda msg: match(None, None, msg.headers())
        if self.on == "value":
            return lambda msg: match(None, msg.value(), None)
        if self.on == "key":
            return lambda msg: match(msg.key(), None, None)
        return lambda msg: match(msg.key(), msg.value(), None)


def _bytes_matcher(needle: bytes, on: str) -> Callable[[bytes | None, bytes | None, Any], bool]:
    """A substring filter on the raw bytes: the same answer as on the decoded text, no decode.

    UTF-8 is self-synchronising and the decoder replaces only the bytes it cannot read,
    so a valid UTF-8 needle occurs in the bytes exactly when it occurs in their text
    (a needle holding U+FFFD, the replacement character, takes the decoding path).
    """
    key_too, value_too = on in ("any", "key"), on in ("any", "value")

    def match(key: bytes | None, value: bytes | None, headers: Any = None) -> bool:
        if key_too and key is not None and needle in key:
            return True
        return value_too and value is not None and needle in value

    return match


def _regex_bytes_matcher(
    pattern: Any, on: str
) -> Callable[[bytes | None, bytes | None, Any], bool]:
    """A regex filter on the raw UTF-8 bytes (RE2 reads UTF-8 itself): no decode a record."""
    key_too, value_too = on in ("any", "key"), on in ("any", "value")
    search = pattern.search

    def match(key: bytes | None, value: bytes | None, headers: Any = None) -> bool:
        if key_too and key is not None and search(key) is not None:
            return True
        return value_too and value is not None and search(value) is not None

    return match
