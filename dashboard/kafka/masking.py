"""Masks: parts of message values replaced before they leave the server (pure logic).

A mask names JSON fields by dotted path (`card.number`; through arrays, every element)
and regular expressions applied to every text value (JSON strings included). What a mask
hides becomes "***". Binary values are left as they are (they are shown as hex).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HIDDEN = "***"


@dataclass(frozen=True)
class Masker:
    """The masks that apply to one topic, ready to apply to keys, values and headers."""

    json_fields: tuple[tuple[str, ...], ...]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, *, json_fields: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> Masker:
        """A masker from dotted paths and compiled patterns."""
        return cls(tuple(tuple(f.split(".")) for f in json_fields), tuple(patterns))

    def text(self, value: str) -> str:
        """A text with every pattern's matches replaced."""
        for pattern in self.patterns:
            value = pattern.sub(HIDDEN, value)
        return value

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, list):
            return [self._walk(item) for item in node]
        if isinstance(node, dict):
            return {k: self._walk(v) for k, v in node.items()}
        return node

    def _hide(self, node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self._hide(item, path) for item in node]
        if not isinstance(node, dict) or path[0] not in node:
            return node
        head, rest = path[0], path[1:]
        return {**node, head: HIDDEN if not rest else self._hide(node[head], rest)}

    def data(self, data: bytes | None) -> tuple[bytes | None, bool]:
        """Masked bytes, and whether anything was hidden."""
        if data is None:
            return None, False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data, False
        stripped = text.lstrip()[:1]
        if stripped in {"{", "["}:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            else:
                masked = parsed
                for path in self.json_fields:
                    masked = self._hide(masked, path)
                masked = self._walk(masked)
                if masked == parsed:
                    return data, False
                return json.dumps(masked, ensure_ascii=False).encode(), True
        masked_text = self.text(text)
        if masked_text == text:
            return data, False
        return masked_text.encode(), True


class MaskedMessage:
    """A consumed message seen through a masker: filters and rendering see the masked bytes."""

    __slots__ = ("_headers", "_key", "_msg", "_value", "masked")

    def __init__(self, msg: Any, masker: Masker) -> None:
        self._msg = msg
        self._key, key_hidden = masker.data(msg.key())
        value, value_hidden = masker.data(msg.value())
        self._value = value
        headers = msg.headers()
        hidden_any = key_hidden or value_hidden
        if headers:
            masked_headers = []
            for name, raw in headers:
                shown, hidden = masker.data(raw)
                hidden_any = hidden_any or hidden
                masked_headers.append((name, shown))
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
