"""Message bytes -> something safe to show: JSON, text or hex, capped in size (pure logic)."""

from __future__ import annotations

import json
from dataclasses import dataclass

# What one key, value or header value may occupy in a frame; the rest is cut.
DEFAULT_CAP = 16 * 1024


@dataclass(frozen=True)
class Rendered:
    """A key, value or header value as shown: kind is null, json, text or hex."""

    kind: str
    text: str
    size: int
    truncated: bool


NULL = Rendered(kind="null", text="", size=0, truncated=False)


def _printable(text: str) -> bool:
    # Control characters other than whitespace mean "this is binary that happens to decode".
    return all(ch.isprintable() or ch in "\t\n\r" for ch in text)


def render_bytes(data: bytes | None, *, cap: int = DEFAULT_CAP) -> Rendered:
    """Pretty JSON when it parses, text when it is printable UTF-8, hex otherwise; capped."""
    if data is None:
        return NULL
    size = len(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and _printable(text):
        stripped = text.strip()
        if stripped[:1] in {"{", "["} and size <= 1024 * 1024:
            try:
                pretty = json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
            except ValueError:
                pass
            else:
                return Rendered(
                    kind="json", text=pretty[:cap], size=size, truncated=len(pretty) > cap
                )
        return Rendered(kind="text", text=text[:cap], size=size, truncated=len(text) > cap)
    shown = data[: cap // 3]  # "ab " per byte
    return Rendered(kind="hex", text=shown.hex(" "), size=size, truncated=size > len(shown))


def searchable(data: bytes | None) -> str:
    """The text a filter looks in: UTF-8 with undecodable bytes replaced."""
    return "" if data is None else data.decode("utf-8", errors="replace")
