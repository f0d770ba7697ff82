"""Masks: parts of keys, values and headers replaced before they leave the server (pure logic).

A mask names JSON fields by dotted path (`card.number`; through arrays, every element)
and regular expressions (RE2) applied to the text as it will be rendered: JSON strings,
numbers and keys included. What a mask hides becomes "***".

Masks fail closed. A masked topic's part that the masker cannot be sure of is replaced
whole by a placeholder saying why: bytes that are not UTF-8 text (they would be shown
as hex, where no pattern can see them), text with control characters (also hex), JSON
with a repeated key (which of the two would a reader see?), JSON nested too deep to
walk, text that looks like JSON (or names a masked field) but does not parse, and a
record whose schema could not be decoded. Filters see the masked bytes, so a search
can never confirm a hidden value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from dashboard.kafka.linear import LinearPattern
from dashboard.kafka.render import pretty_json, printable_text

HIDDEN = "***"
# Deeper JSON is not walked (the renderer shows it as text): hidden whole.
MAX_DEPTH = 256


def placeholder(reason: str) -> bytes:
    """What a masked part becomes when the masker cannot be sure: the reason, nothing else."""
    return f"{HIDDEN} hidden: {reason}".encode()


class _Unsure(Exception):
    """The masker cannot be sure what this part holds: hide it whole, for this reason."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Unsure("a JSON object repeats a key, so a mask cannot tell which one is shown")
        out[key] = value
    return out


def _number_text(value: int | float) -> str:
    """A JSON number as the renderer writes it (orjson; the standard library past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)


@dataclass(frozen=True)
class Masker:
    """The masks that apply to one topic, ready to apply to keys, values and headers."""

    json_fields: tuple[tuple[str, ...], ...]
    patterns: tuple[LinearPattern, ...]

    @classmethod
    def of(cls, *, json_fields: Sequence[str], patterns: Sequence[LinearPattern]) -> Masker:
        """A masker from dotted paths and compiled (RE2) patterns."""
        return cls(tuple(tuple(f.split(".")) for f in json_fields), tuple(patterns))

    def text(self, value: str) -> str:
        """A text with every pattern's matches replaced."""
        for pattern in self.patterns:
            value = pattern.sub(HIDDEN, value)
        return value

    def _walk(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Unsure(f"JSON nested more than {MAX_DEPTH} deep")
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int | float):
            # A card number sent as a JSON number is shown as digits all the same.
            shown = _number_text(node)
            masked = self.text(shown)
            return node if masked == shown else masked
        if isinstance(node, list):
            return [self._walk(item, depth + 1) for item in node]
        if isinstance(node, dict):
            return {self.text(k): self._walk(v, depth + 1) for k, v in node.items()}
        return node

    def _hide(self, node: Any, path: tuple[str, ...], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Unsure(f"JSON nested more than {MAX_DEPTH} deep")
        if isinstance(node, list):
            return [self._hide(item, path, depth + 1) for item in node]
        if not isinstance(node, dict) or path[0] not in node:
            return node
        head, rest = path[0], path[1:]
        return {**node, head: HIDDEN if not rest else self._hide(node[head], rest, depth + 1)}

    def _looks_like_fields(self, text: str) -> bool:
        """Whether a text that is not JSON might still hold a masked field's value."""
        start = text.lstrip()[:1]
        return start in {"{", "[", '"'} or any(p[-1] in text for p in self.json_fields)

    def data(
        self, data: bytes | None, *, undecoded: str | None = None
    ) -> tuple[bytes | None, bool]:
        """Masked bytes, and whether anything was hidden (a placeholder when unsure).

        `undecoded` is why a registry-framed part could not be decoded: its bytes are not
        what a person would read, so they are hidden whole.
        """
        if data is None:
            return None, False
        if undecoded is not None:
            # Not even the reason: a decoder's message may quote the bytes it choked on.
            return placeholder("its schema could not be decoded, so a mask cannot read it"), True
        try:
            return self._data(data)
        except _Unsure as why:
            return placeholder(str(why)), True
        except RecursionError:
            return placeholder("nested too deep to check"), True

    def _data(self, data: bytes) -> tuple[bytes, bool]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Unsure(f"not UTF-8 text ({len(data)} bytes), so a mask cannot read it") from None
        # A byte-order mark would make the renderer show hex; what follows it is the text.
        text = text.removeprefix("\ufeff")
        if not printable_text(text):
            raise _Unsure("holds control characters (shown as hex), so a mask cannot read it")
        parsed: Any = None
        is_json = False
        try:
            parsed = json.loads(text, object_pairs_hook=_no_repeats)
            is_json = True
        except ValueError:
            if self.json_fields and self._looks_like_fields(text):
                raise _Unsure(
                    "looks like JSON but does not parse, so a mask cannot find its fields"
                ) from None
        bom = data.startswith(b"\xef\xbb\xbf")
        if not is_json or not isinstance(parsed, dict | list):
            # Plain text or a lone JSON scalar: patterns on the text as it is shown.
            masked_text = self.text(text)
            if masked_text == text:
                return (text.encode() if bom else data), False
            return masked_text.encode(), True
        masked = parsed
        for path in self.json_fields:
            masked = self._hide(masked, path)
        masked = self._walk(masked)
        shown = pretty_json(orjson_or_json(masked))
        if shown is None:
            raise _Unsure("JSON the renderer cannot show")
        # The last word: the patterns over the whole text exactly as it will be rendered.
        final = self.text(shown)
        hidden = final != shown or masked != parsed
        if not hidden:
            return (shown.encode() if bom else data), False
        return final.encode(), True


def orjson_or_json(value: Any) -> bytes:
    """Compact JSON of a value (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False).encode()


class MaskedMessage:
    """A consumed message seen through a masker: filters and rendering see the masked bytes."""

    __slots__ = ("_headers", "_key", "_msg", "_value", "masked")

    def __init__(self, msg: Any, masker: Masker) -> None:
        self._msg = msg
        # A registry-framed part that could not be decoded (DecodedMessage says why).
        problems = {
            field: str(schema["error"])
            for field, schema in (getattr(msg, "schemas", None) or {}).items()
            if isinstance(schema, dict) and "error" in schema
        }
        self._key, key_hidden = masker.data(msg.key(), undecoded=problems.get("key"))
        value, value_hidden = masker.data(msg.value(), undecoded=problems.get("value"))
        self._value = value
        headers = msg.headers()
        hidden_any = key_hidden or value_hidden
        if headers:
            masked_headers = []
            for name, raw in headers:
                shown, hidden = masker.data(raw)
                masked_name = masker.text(str(name))
                hidden = hidden or masked_name != name
                hidden_any = hidden_any or hidden
                masked_headers.append((masked_name, shown))
            self._headers: list[tuple[str, bytes | None]] | None = masked_headers
        else:
            self._headers = headers
        self.masked = {"key": key_hidden, "value": value_hidden, "any": hidden_any}

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers

    def __getattr__(self, name: str) -> Any:
        return getattr(self._msg, name)
