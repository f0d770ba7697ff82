"""Kafka protocol messages encoded and decoded from Kafka's own JSON message specs.

librdkafka has no admin calls for share and streams groups and hides every group
whose protocol type is not `consumer`, so a few requests are sent by us. Their
layouts are not typed by hand: `specs/` holds the JSON definitions shipped in
kafka-clients 4.3.1 (`common/message/*.json`, Apache License 2.0, unchanged), and
this module reads them the way Kafka's own generator does: versions, flexible
versions (compact strings and arrays, tagged fields), nullable fields and
common structs. See https://kafka.apache.org/protocol and KIP-482 (tagged fields).
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SPECS = Path(__file__).with_name("specs")

_FIXED = {
    "bool": struct.Struct(">?"),
    "int8": struct.Struct(">b"),
    "int16": struct.Struct(">h"),
    "uint16": struct.Struct(">H"),
    "int32": struct.Struct(">i"),
    "uint32": struct.Struct(">I"),
    "int64": struct.Struct(">q"),
    "float64": struct.Struct(">d"),
}


_SMALL = [bytes((n,)) for n in range(0x80)]


class ProtocolError(Exception):
    """A message that does not fit its spec (ours to encode or the broker's to decode)."""


@dataclass(frozen=True)
class Versions:
    """A version range of a spec: "0+", "1-3", "2" or "none"."""

    low: int
    high: int | None  # None: no upper bound

    @classmethod
    def parse(cls, text: str | None) -> Versions:
        if text is None or text == "none":
            return cls(1, 0)  # empty
        if text.endswith("+"):
            return cls(int(text[:-1]), None)
        if "-" in text:
            low, high = text.split("-", 1)
            return cls(int(low), int(high))
        return cls(int(text), int(text))

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, int):
            return False
        return version >= self.low and (self.high is None or version <= self.high)


@dataclass(frozen=True)
class Field:
    """One field of a message or struct spec."""

    name: str
    type: str
    versions: Versions
    nullable: Versions
    tagged: Versions
    tag: int | None
    flexible: Versions | None  # a field-level override (the header's ClientId)
    default: Any
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Spec:
    """A request, response or header message spec."""

    name: str
    api_key: int | None
    valid: Versions
    flexible: Versions
    fields: tuple[Field, ...]
    structs: dict[str, tuple[Field, ...]]


def _strip_comments(text: str) -> str:
    """JSON with Kafka's // comments (Jackson ALLOW_COMMENTS) -> plain JSON."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _field(raw: dict[str, Any], structs: dict[str, tuple[Field, ...]]) -> Field:
    children = tuple(_field(f, structs) for f in raw.get("fields", ()))
    kind = raw["type"]
    base = kind[2:] if kind.startswith("[]") else kind
    if children and base not in _FIXED and base not in {"string", "bytes", "uuid", "records"}:
        structs[base] = children
    return Field(
        name=raw["name"],
        type=kind,
        versions=Versions.parse(raw.get("versions")),
        nullable=Versions.parse(raw.get("nullableVersions")),
        tagged=Versions.parse(raw.get("taggedVersions")),
        tag=raw.get("tag"),
        flexible=Versions.parse(raw["flexibleVersions"]) if "flexibleVersions" in raw else None,
        default=raw.get("default"),
        fields=children,
    )


@cache
def spec(name: str) -> Spec:
    """The spec of a message by its file name, e.g. "ListGroupsRequest"."""
    path = SPECS / f"{name}.json"
    raw = json.loads(_strip_comments(path.read_text(encoding="utf-8")))
    structs: dict[str, tuple[Field, ...]] = {}
    for common in raw.get("commonStructs", ()):
        structs[common["name"]] = tuple(_field(f, structs) for f in common["fields"])
    fields = tuple(_field(f, structs) for f in raw["fields"])
    return Spec(
        name=raw["name"],
        api_key=raw.get("apiKey"),
        valid=Versions.parse(raw["validVersions"]),
        flexible=Versions.parse(raw["flexibleVersions"]),
        fields=fields,
        structs=structs,
    )


def _default(field: Field) -> Any:
    if field.type.startswith("[]"):
        return None if field.default == "null" else []
    value = field.default
    if value == "null":
        return None
    if field.type in {"int8", "int16", "uint16", "int32", "uint32", "int64"}:
        return int(value, 0) if isinstance(value, str) else int(value or 0)
    if field.type == "float64":
        return float(value or 0)
    if field.type == "bool":
        return value in {True, "true"}
    if field.type == "string":
        return value or ""
    if field.type == "uuid":
        return uuid.UUID(int=0)
    if field.type in {"bytes", "records"}:
        return b""
    return None  # a struct with no value


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_Write = Callable[[bytearray, Any], None]


class _EncodeCompiler:
    """The encoder's plan, worked out once per (message, version), as the decoder's is."""

    def __init__(self, message: Spec, version: int) -> None:
        self.spec = message
        self.version = version

    def length(self, field: Field, *, wide: bool) -> Callable[[bytearray, int | None], None]:
        """A length or count: compact (n + 1) in flexible versions, else int32 or int16."""
        if self.version in (field.flexible or self.spec.flexible):

            def compact(out: bytearray, n: int | None) -> None:
                out += _varint(0 if n is None else n + 1)

            return compact
        pack = (_FIXED["int32"] if wide else _FIXED["int16"]).pack

        def fixed(out: bytearray, n: int | None) -> None:
            out += pack(-1 if n is None else n)

        return fixed

    def null(self, field: Field) -> None:
        if self.version not in field.nullable:
            raise ProtocolError(f"{self.spec.name} v{self.version}: {field.name} may not be null")

    def value(self, field: Field, kind: str, *, element: bool = False) -> _Write:
        if kind.startswith("[]"):
            count = self.length(field, wide=True)
            item = self.value(field, kind[2:], element=True)

            def array(out: bytearray, value: Any) -> None:
                if value is None:
                    self.null(field)
                    count(out, None)
                    return
                count(out, len(value))
                for one in value:
                    item(out, one)

            return array
        if kind in _FIXED:
            pack = _FIXED[kind].pack

            def fixed(out: bytearray, value: Any) -> None:
                out += pack(value)

            return fixed
        if kind in {"string", "bytes", "records"}:
            length = self.length(field, wide=kind != "string")
            text = kind == "string"

            def sized(out: bytearray, value: Any) -> None:
                if value is None:
                    self.null(field)
                    length(out, None)
                    return
                data = value.encode("utf-8") if text else value
                length(out, len(data))
                out += data

            return sized
        if kind == "uuid":

            def write_uuid(out: bytearray, value: Any) -> None:
                out += (value or uuid.UUID(int=0)).bytes

            return write_uuid
        inner = self.struct(self.spec.structs.get(kind, field.fields))
        if element or self.version not in field.nullable:

            def required(out: bytearray, value: Any) -> None:
                if value is None:
                    raise ProtocolError(f"{self.spec.name}: {field.name} may not be null")
                inner(out, value)

            return required
        marker = _FIXED["int8"].pack

        def nullable(out: bytearray, value: Any) -> None:
            out += marker(-1 if value is None else 1)
            if value is not None:
                inner(out, value)

        return nullable

    def struct(self, fields: tuple[Field, ...]) -> _Write:
        version = self.version
        steps: list[tuple[str, Any, _Write]] = []
        tagged: list[tuple[int, str, Any, _Write]] = []
        for field in fields:
            if version not in field.versions:
                continue
            write = self.value(field, field.type)
            if field.tag is not None and version in field.tagged:
                tagged.append((field.tag, field.name, _default(field), write))
            else:
                steps.append((field.name, _default(field), write))
        tagged.sort(key=lambda t: t[0])
        flexible = version in self.spec.flexible

        def write_struct(out: bytearray, values: dict[str, Any]) -> None:
            get = values.get
            for name, default, write in steps:
                write(out, get(name, default))
            if not flexible:
                return
            present = []
            for tag, name, default, write in tagged:
                value = get(name, default)
                if value != default:  # a tagged field at its default is left out
                    inner = bytearray()
                    write(inner, value)
                    present.append((tag, inner))
            out += _varint(len(present))
            for tag, inner in present:
                out += _varint(tag) + _varint(len(inner)) + inner

        return write_struct


@cache
def _encoder(name: str, version: int) -> _Write:
    message = spec(name)
    return _EncodeCompiler(message, version).struct(message.fields)


# The decoder is compiled: each (message, version) becomes nested closures over
# `unpack_from`, the field plan worked out once. Walking the spec for every value (the
# first decoder) cost 38% of the group list's time on 10,000 groups (py-spy).
_Read = Callable[[bytes, int], tuple[Any, int]]


class _Short(Exception):
    """The bytes end before the message does."""


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]  # IndexError past the end: a short message
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtocolError("varint too long")


class _Compiler:
    def __init__(self, message: Spec, version: int) -> None:
        self.spec = message
        self.version = version

    def length(self, field: Field, *, wide: bool) -> _Read:
        """A length or count: compact (n + 1) in flexible versions, else int32 or int16."""
        flexible = self.version in (field.flexible or self.spec.flexible)
        if flexible:

            def compact(data: bytes, pos: int) -> tuple[int, int]:
                byte = data[pos]
                if byte < 0x80:  # nearly every length: one byte, no call
                    return byte - 1, pos + 1
                n, pos = _uvarint(data, pos)
                return n - 1, pos

            return compact
        unpack = (_FIXED["int32"] if wide else _FIXED["int16"]).unpack_from
        size = 4 if wide else 2

        def fixed(data: bytes, pos: int) -> tuple[int, int]:
            return unpack(data, pos)[0], pos + size

        return fixed

    def value(self, field: Field, kind: str, *, element: bool = False) -> _Read:
        version = self.version
        if kind.startswith("[]"):
            count = self.length(field, wide=True)
            item = self.value(field, kind[2:], element=True)

            def array(data: bytes, pos: int) -> tuple[Any, int]:
                n, pos = count(data, pos)
                if n < 0:
                    return None, pos
                # Every element takes at least a byte: a count past the bytes left is a
                # lie (a hostile broker's 2^31 would otherwise cost gigabytes to refuse).
                if n > len(data) - pos:
                    raise ProtocolError(
                        f"{field.name} claims {n} elements in {len(data) - pos} bytes"
                    )
                out: list[Any] = []
                append = out.append
                for _ in range(n):
                    one, pos = item(data, pos)
                    append(one)
                return out, pos

            return array
        if kind in _FIXED:
            unpack, size = _FIXED[kind].unpack_from, _FIXED[kind].size

            def fixed(data: bytes, pos: int) -> tuple[Any, int]:
                return unpack(data, pos)[0], pos + size

            return fixed
        if kind in {"string", "bytes", "records"}:
            length = self.length(field, wide=kind != "string")
            text = kind == "string"
            empty = "" if text else b""

            def sized(data: bytes, pos: int) -> tuple[Any, int]:
                n, pos = length(data, pos)
                if n <= 0:  # null, or the empty metadata string of most commits
                    return (None if n < 0 else empty), pos
                end = pos + n
                if end > len(data):
                    raise _Short
                chunk = data[pos:end]
                return (chunk.decode("utf-8", errors="replace") if text else chunk), end

            return sized
        if kind == "uuid":

            def read_uuid(data: bytes, pos: int) -> tuple[Any, int]:
                if pos + 16 > len(data):
                    raise _Short
                return uuid.UUID(bytes=data[pos : pos + 16]), pos + 16

            return read_uuid
        inner = self.struct(self.spec.structs.get(kind, field.fields))
        # A nullable struct field has a marker byte; an array's nullability is its length.
        if element or version not in field.nullable:
            return inner
        marker = _FIXED["int8"].unpack_from

        def nullable(data: bytes, pos: int) -> tuple[Any, int]:
            if marker(data, pos)[0] < 0:
                return None, pos + 1
            return inner(data, pos + 1)

        return nullable

    def struct(self, fields: tuple[Field, ...]) -> _Read:
        version = self.version
        # A step reads one field, or a run of fixed-size fields in one unpack_from.
        steps: list[tuple[str | tuple[str, ...], _Read]] = []
        run: list[Field] = []
        constant: dict[str, Any] = {}
        fresh: list[str] = []  # absent arrays: a new [] each time, never one shared list
        by_tag: dict[int, tuple[str, _Read]] = {}

        def run_end() -> None:
            if len(run) == 1:
                steps.append((run[0].name, self.value(run[0], run[0].type)))
            elif run:
                packer = struct.Struct(">" + "".join(_FIXED[f.type].format[1:] for f in run))
                unpack, size = packer.unpack_from, packer.size

                def fixed_run(data: bytes, pos: int) -> tuple[Any, int]:
                    return unpack(data, pos), pos + size

                steps.append((tuple(f.name for f in run), fixed_run))
            run.clear()

        for field in fields:
            present = version in field.versions
            if present and field.tag is not None and version in field.tagged:
                by_tag[field.tag] = (field.name, self.value(field, field.type))
            elif present and field.type in _FIXED:
                run.append(field)
                continue
            elif present:
                run_end()
                steps.append((field.name, self.value(field, field.type)))
                continue
            default = _default(field)
            if isinstance(default, list):
                fresh.append(field.name)
            else:
                constant[field.name] = default
        run_end()
        flexible = version in self.spec.flexible

        def read_struct(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
            out = dict(constant)
            for name in fresh:
                out[name] = []
            for names, read in steps:
                if names.__class__ is str:
                    out[names], pos = read(data, pos)  # type: ignore[index]
                else:
                    values, pos = read(data, pos)
                    out.update(zip(names, values, strict=True))
            if flexible:
                if data[pos] == 0:  # no tagged fields: the common case, no call
                    return out, pos + 1
                tags, pos = _uvarint(data, pos)
                for _ in range(tags):
                    tag, pos = _uvarint(data, pos)
                    size, pos = _uvarint(data, pos)
                    if tag in by_tag:  # unknown tags are skipped, as Kafka's readers do
                        tagged_name, read = by_tag[tag]
                        out[tagged_name] = read(data, pos)[0]
                    pos += size
                    if pos > len(data):
                        raise _Short
            return out, pos

        return read_struct


@cache
def _decoder(name: str, version: int) -> _Read:
    message = spec(name)
    return _Compiler(message, version).struct(message.fields)


def encode(name: str, version: int, values: dict[str, Any]) -> bytes:
    """A message's bytes at a version, from a dict keyed by the spec's field names."""
    message = spec(name)
    if version not in message.valid:
        raise ProtocolError(f"{message.name} has no version {version}")
    out = bytearray()
    _encoder(name, version)(out, values)
    return bytes(out)


def decode(name: str, version: int, data: bytes, pos: int = 0) -> tuple[dict[str, Any], int]:
    """A message decoded at a version, and the position after it."""
    try:
        return _decoder(name, version)(bytes(data), pos)
    except (_Short, IndexError, struct.error):
        raise ProtocolError(f"{spec(name).name} v{version}: message ends too soon") from None
    except ProtocolError as error:
        raise ProtocolError(f"{spec(name).name} v{version}: {error}") from None


def request_header_version(request: str, version: int) -> int:
    """Header v2 (tagged fields) for flexible request versions, else v1."""
    return 2 if version in spec(request).flexible else 1


def response_header_version(response: str, version: int) -> int:
    """Header v1 for flexible responses, except ApiVersions (always v0: KIP-511)."""
    if spec(response).api_key == 18:
        return 0
    return 1 if version in spec(response).flexible else 0
