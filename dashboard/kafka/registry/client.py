"""Schema Registry: records in Confluent's wire format decoded with the writer's schema.

A record written by a Confluent serializer starts with a zero byte and the schema's
id (4 bytes, big-endian), then the Avro, JSON Schema or Protobuf bytes. The schema
comes from the cluster's registry (confluent_kafka's SchemaRegistryClient, which caches
it) and is parsed once per id. A record that cannot be decoded (unknown id, registry
down, bytes that do not match the schema) keeps its bytes and says why; it never stops
a tail. A failed lookup is remembered for a few seconds, so a backlog of records with
one unknown id costs one request, not one per record.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from dashboard.kafka.client.clients import cluster_config
from dashboard.kafka.client.shared import shared_read
from dashboard.kafka.config import RegistryConfig

# A registry lookup may take this long before the record is shown undecoded.
LOOKUP_TIMEOUT = 3.0
# A failed lookup is not repeated for this long (seconds).
RETRY_AFTER = 5.0
# Schema ids a decoder keeps parsed, and failed ids it remembers (both bounded: a hostile
# producer can frame records with any id it likes).
MAX_WRITERS = 4096
MAX_FAILED = 1024
MAGIC = 0


class SchemaProblem(Exception):
    """Why a record could not be decoded with its schema (shown beside its bytes)."""


@dataclass(frozen=True)
class SchemaInfo:
    """The writer's schema of a record: id, type and, when the registry says, subject/version."""

    id: int
    type: str  # AVRO, JSON, PROTOBUF
    subject: str | None
    version: int | None

    def as_json(self) -> dict[str, object]:
        """For the record's frame."""
        return {"id": self.id, "type": self.type, "subject": self.subject, "version": self.version}


@dataclass(frozen=True)
class _Writer:
    info: SchemaInfo
    read: Callable[[bytes], Any]


def schema_id(data: bytes | None) -> int | None:
    """The schema id of a Confluent wire-format record, None when it is not one."""
    if data is None or len(data) < 5 or data[0] != MAGIC:
        return None
    return int.from_bytes(data[1:5], "big")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> bytes:
    """A decoded value as JSON (Avro logical types readable: dates ISO, decimals as strings)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _avro_reader(schema_str: str, named: dict[str, Any]) -> Callable[[bytes], Any]:
    import fastavro

    parsed = fastavro.parse_schema(json.loads(schema_str), named_schemas=named)

    def read(payload: bytes) -> Any:
        buffer = io.BytesIO(payload)
        try:
            value = fastavro.schemaless_reader(buffer, parsed, None)
        except Exception as exc:
            raise SchemaProblem(f"the bytes do not match the Avro schema: {exc!r}") from None
        if buffer.tell() != len(payload):
            raise SchemaProblem(
                f"the bytes do not match the Avro schema: {len(payload) - buffer.tell()} "
                "bytes left after the record"
            )
        return value

    return read


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if pos >= len(data):
            raise SchemaProblem("the Protobuf message indexes are cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _zigzag(data: bytes, pos: int) -> tuple[int, int]:
    raw, pos = _varint(data, pos)
    return (raw >> 1) ^ -(raw & 1), pos


# protoc may take this long on one schema (and its imports) before the record is shown
# undecoded: a schema is hostile input, and protoc runs in a child process we can kill.
PROTOC_TIMEOUT = 10.0
# Imports one schema may pull in, all levels together.
MAX_REFERENCES = 200
# A reference name is an import path as the importing .proto file spells it: plain
# segments of letters, digits, `_`, `-` and `.`, separated by single slashes.
_IMPORT_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_IMPORT_MAX = 255


def proto_import_check(name: str) -> str:
    """The name when it is a safe relative import path; SchemaProblem otherwise.

    A reference name comes from the registry (anyone who may register a schema writes it).
    It is never used as a path: it only names a file inside protoc's virtual tree. It is
    refused before that when it could mean anything but a plain relative path.
    """
    shown = repr(name[:80])
    if not name or len(name) > _IMPORT_MAX:
        raise SchemaProblem(f"the Protobuf reference name {shown} is empty or too long")
    segments = name.split("/")
    if any(not _IMPORT_SEGMENT.fullmatch(s) or s in {".", ".."} for s in segments) or (
        not name.endswith(".proto")
    ):
        raise SchemaProblem(
            f"the Protobuf reference name {shown} is not a relative .proto path "
            "(letters, digits, _ - . and single slashes; no '..', no absolute path)"
        )
    return name


def proto_files(root: str, texts: dict[str, str]) -> Any:
    """A FileDescriptorSet of .proto texts (by import name), imports included, built by protoc.

    Each text is written to a generated file name (f0.proto, f1.proto, ...) in a private
    temporary folder, and protoc maps each import name to its file (`-Iname=file`), so
    no name from the registry ever becomes a path. protoc runs in a child process with
    a time limit, its working folder the temporary one.
    """
    import os
    import subprocess
    import sys
    import tempfile

    import grpc_tools
    from google.protobuf import descriptor_pb2

    for name in texts:
        proto_import_check(name)
    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory(prefix="kafkaview-proto-") as folder:
        mapping = []
        for i, (name, text) in enumerate(sorted(texts.items())):
            path = os.path.join(folder, f"f{i}.proto")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            mapping.append(f"-I{name}={path}")
        target = os.path.join(folder, "out.pb")
        args = [sys.executable, "-m", "grpc_tools.protoc", *mapping, f"-I{includes}",
                "--include_imports", f"--descriptor_set_out={target}", root]  # fmt: skip
        try:
            # protoc prints its errors on stderr; the exit code says whether it worked.
            done = subprocess.run(
                args, cwd=folder, capture_output=True, timeout=PROTOC_TIMEOUT, check=False,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise SchemaProblem(
                f"protoc took longer than {PROTOC_TIMEOUT:g} s on the Protobuf schema {root}"
            ) from None
        if done.returncode != 0 or not os.path.exists(target):
            raise SchemaProblem(f"protoc could not read the Protobuf schema {root}")
        files = descriptor_pb2.FileDescriptorSet()
        with open(target, "rb") as data:
            files.ParseFromString(data.read())
        return files


def _serialized(text: str) -> Any:
    """A registry schema given as a base64 FileDescriptorProto (confluent-kafka-python
    registers them so), else None for .proto text."""
    from google.protobuf import descriptor_pb2

    try:
        raw = base64.b64decode(text, validate=True)
        proto = descriptor_pb2.FileDescriptorProto()
        proto.ParseFromString(raw)
    except Exception:
        return None
    return proto if proto.name or proto.message_type else None


# The well-known types protobuf ships compiled (google/protobuf/<name>.proto).
_WELL_KNOWN = frozenset(
    {"any", "api", "descriptor", "duration", "empty", "field_mask", "source_context",
     "struct", "timestamp", "type", "wrappers"}
)  # fmt: skip


def _well_known(name: str) -> Any:
    """google/protobuf/x.proto from the protobuf package itself (only the known ones)."""
    import importlib

    from google.protobuf import descriptor_pb2

    short = name.removeprefix("google/protobuf/").removesuffix(".proto")
    if f"google/protobuf/{short}.proto" != name or short not in _WELL_KNOWN:
        raise SchemaProblem(f"the Protobuf schema imports {name[:80]!r}, which is missing")
    module = importlib.import_module(f"google.protobuf.{short}_pb2")
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


def proto_pool(root: str, texts: dict[str, str]) -> tuple[Any, str]:
    """A descriptor pool holding the root file and its imports, and the root's file name.

    Each file comes as .proto text (compiled by protoc) or as a base64 FileDescriptorProto.
    """
    from google.protobuf import descriptor_pool

    protos: dict[str, Any] = {}
    text_files = {}
    for name, text in texts.items():
        found = _serialized(text)
        if found is None:
            text_files[name] = text
        else:
            found.name = name  # as the importing files name it
            protos[name] = found
    if root in text_files:
        for proto in proto_files(root, text_files).file:
            protos.setdefault(proto.name, proto)
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str) -> None:
        if name in added:
            return
        proto = protos.get(name)
        if proto is None:
            if not name.startswith("google/protobuf/"):
                raise SchemaProblem(f"the Protobuf schema imports {name[:80]!r}, which is missing")
            proto = protos[name] = _well_known(name)
        for dependency in proto.dependency:
            add(dependency)
        pool.Add(proto)
        added.add(name)

    try:
        add(root)
    except SchemaProblem:
        raise
    except Exception as exc:
        raise SchemaProblem(f"the Protobuf schema could not be read: {exc}") from None
    return pool, root


def _proto_reader(root: str, texts: dict[str, str]) -> Callable[[bytes], Any]:
    from google.protobuf import json_format, message_factory

    pool, name = proto_pool(root, texts)
    top = list(pool.FindFileByName(name).message_types_by_name.values())
    if not top:
        raise SchemaProblem(f"the Protobuf schema {root} defines no message")

    def read(payload: bytes) -> Any:
        # Confluent's framing: which message of the file (a path of indexes), then its bytes;
        # a lone 0 means the first message.
        count, pos = _zigzag(payload, 0)
        path = [0] if count == 0 else []
        for _ in range(count):
            index, pos = _zigzag(payload, pos)
            path.append(index)
        try:
            descriptor = top[path[0]]
            for index in path[1:]:
                descriptor = descriptor.nested_types[index]
        except IndexError:
            raise SchemaProblem(f"no message at index {path} in the Protobuf schema") from None
        message = message_factory.GetMessageClass(descriptor)()
        try:
            message.ParseFromString(payload[pos:])
        except Exception as exc:
            raise SchemaProblem(f"the bytes do not match {descriptor.full_name}: {exc}") from None
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    return read


def _json_reader(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SchemaProblem(f"not JSON: {exc}") from None


class SchemaDecoder:
    """Decodes one cluster's wire-format records (thread-safe; one per cluster and process)."""

    def __init__(self, registry: RegistryConfig) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.registry = registry
        self.client = SchemaRegistryClient(registry.client_config(timeout=LOOKUP_TIMEOUT))
        self._writers: dict[int, _Writer] = {}
        self._failed: dict[int, tuple[float, str]] = {}
        self._flights: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def writer(self, sid: int, *, topic: str, field: str) -> _Writer:
        """The parsed writer schema of an id (cached); SchemaProblem when it cannot be had.

        Lookups are single-flight per id and run outside the lock: one slow registry
        answer (or protoc run) for one id never holds up records of other ids.
        """
        while True:
            found = self._writers.get(sid)
            if found is not None:
                return found
            with self._lock:
                failed = self._failed.get(sid)
                if failed is not None and time.monotonic() < failed[0]:
                    raise SchemaProblem(failed[1])
                flight = self._flights.get(sid)
                mine = flight is None
                if flight is None:
                    flight = self._flights[sid] = threading.Event()
            if not mine:
                # Another thread is fetching this id: wait for its answer, then read it.
                flight.wait(LOOKUP_TIMEOUT * 4 + PROTOC_TIMEOUT)
                with self._lock:
                    if sid not in self._writers and sid not in self._failed:
                        raise SchemaProblem(f"the lookup of schema id {sid} did not finish")
                continue
            try:
                found = self._fetch(sid, topic=topic, field=field)
            except SchemaProblem as exc:
                with self._lock:
                    self._remember_failure(sid, str(exc))
                raise
            except Exception as exc:  # a bug or a library's surprise: this record's problem
                with self._lock:
                    self._remember_failure(sid, f"schema id {sid} could not be read: {exc!r}")
                raise SchemaProblem(f"schema id {sid} could not be read: {exc!r}") from None
            else:
                with self._lock:
                    self._failed.pop(sid, None)
                    if len(self._writers) >= MAX_WRITERS:
                        self._writers.pop(next(iter(self._writers)))
                    self._writers[sid] = found
                return found
            finally:
                with self._lock:
                    self._flights.pop(sid, None)
                flight.set()

    def _remember_failure(self, sid: int, reason: str) -> None:
        """Keep a failed id for RETRY_AFTER; bounded, so random ids cannot grow it."""
        now = time.monotonic()
        if len(self._failed) >= MAX_FAILED:
            for old in [k for k, (until, _) in self._failed.items() if until <= now]:
                del self._failed[old]
            while len(self._failed) >= MAX_FAILED:
                self._failed.pop(next(iter(self._failed)))
        self._failed[sid] = (now + RETRY_AFTER, reason)

    def _fetch(self, sid: int, *, topic: str, field: str) -> _Writer:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = self.client.get_schema(sid)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaProblem(f"schema id {sid} is not in the registry") from None
            raise SchemaProblem(f"the registry answered {exc.http_status_code}: {exc}") from None
        except Exception as exc:  # httpx's connection errors and timeouts
            raise SchemaProblem(f"the registry did not answer: {exc}") from None
        kind = (schema.schema_type or "AVRO").upper()
        subject, version = self._where(sid, topic=topic, field=field)
        info = SchemaInfo(sid, kind, subject, version)
        if kind == "AVRO":
            named: dict[str, Any] = {}
            try:
                import fastavro

                for ref in schema.references or []:
                    referenced = self.client.get_version(str(ref.subject), int(ref.version or 1))
                    text = referenced.schema.schema_str if referenced.schema else None
                    fastavro.parse_schema(json.loads(text or "null"), named_schemas=named)
                return _Writer(info, _avro_reader(schema.schema_str or "null", named))
            except SchemaProblem:
                raise
            except Exception as exc:
                raise SchemaProblem(f"the Avro schema {sid} could not be read: {exc}") from None
        if kind == "JSON":
            return _Writer(info, _json_reader)
        if kind == "PROTOBUF":
            texts = {f"schema-{sid}.proto": schema.schema_str or ""}
            self._references(schema.references or [], texts)
            return _Writer(info, _proto_reader(f"schema-{sid}.proto", texts))
        raise SchemaProblem(f"{kind} records are not decoded (schema id {sid})")

    def _references(self, refs: list[Any], texts: dict[str, str]) -> None:
        """The imported .proto files, by the name the importing file uses (recursively)."""
        for ref in refs:
            proto_import_check(str(ref.name))
            if ref.name in texts:
                continue
            if len(texts) > MAX_REFERENCES:
                raise SchemaProblem(f"the Protobuf schema has more than {MAX_REFERENCES} imports")
            try:
                found = self.client.get_version(str(ref.subject), int(ref.version or 1))
            except Exception as exc:
                raise SchemaProblem(f"the referenced schema {ref.name} is missing: {exc}") from None
            texts[str(ref.name)] = (found.schema.schema_str if found.schema else "") or ""
            if found.schema is not None:
                self._references(found.schema.references or [], texts)

    def _where(self, sid: int, *, topic: str, field: str) -> tuple[str | None, int | None]:
        """The subject and version of an id, preferring the topic's own subject."""
        try:
            versions = self.client.get_schema_versions(sid)
        except Exception:
            return None, None  # the record still decodes; only the label is missing
        if not versions:
            return None, None
        preferred = f"{topic}-{field}"
        best = next((v for v in versions if v.subject == preferred), versions[0])
        return best.subject, best.version

    def decode(self, data: bytes | None, *, topic: str, field: str) -> tuple[bytes, SchemaInfo]:
        """(JSON bytes, schema) of a wire-format record; SchemaProblem with the reason."""
        sid = schema_id(data)
        if sid is None or data is None:
            raise SchemaProblem("not in the registry's wire format")
        writer = self.writer(sid, topic=topic, field=field)
        return to_json(writer.read(data[5:])), writer.info

    def encode(self, *, subject: str, version: str, text: str) -> tuple[bytes, SchemaInfo]:
        """A value typed as JSON, checked against the subject's schema and framed for the wire.

        SchemaProblem says what is wrong, naming the field (`customer.card: ...`).
        """
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            found = (
                self.client.get_latest_version(subject)
                if version == "latest"
                else self.client.get_version(subject, int(version))
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaProblem(
                    f"subject {subject!r} has no version {version} in the registry"
                ) from None
            raise SchemaProblem(f"the registry answered {exc.http_status_code}: {exc}") from None
        except ValueError:
            raise SchemaProblem(f"version must be 'latest' or a number, not {version!r}") from None
        except Exception as exc:
            raise SchemaProblem(f"the registry did not answer: {exc}") from None
        schema = found.schema
        if schema is None or found.schema_id is None:
            raise SchemaProblem(f"subject {subject!r} version {version} has no schema")
        sid, kind = int(found.schema_id), (schema.schema_type or "AVRO").upper()
        info = SchemaInfo(sid, kind, found.subject, found.version)
        head = bytes([MAGIC]) + sid.to_bytes(4, "big")
        try:
            value = json.loads(text, parse_float=Decimal) if kind == "AVRO" else json.loads(text)
        except ValueError as exc:
            raise SchemaProblem(f"the value is not valid JSON: {exc}") from None
        if kind == "AVRO":
            return head + _avro_encode(schema.schema_str or "null", value), info
        if kind == "JSON":
            _json_check(schema.schema_str or "{}", value)
            return head + orjson.dumps(value), info
        if kind == "PROTOBUF":
            texts = {f"schema-{sid}.proto": schema.schema_str or ""}
            self._references(schema.references or [], texts)
            return head + _proto_encode(f"schema-{sid}.proto", texts, text), info
        raise SchemaProblem(f"{kind} schemas cannot be produced with")


def _avro_from_json(schema: Any, value: Any) -> Any:
    """JSON typed by a person -> what fastavro writes: bytes from base64 (as the tail shows
    them), decimals from numbers or strings; records, arrays, maps and unions walked."""
    from fastavro.validation import validate

    if isinstance(schema, list):  # a union: the first branch the value fits
        for branch in schema:
            converted = _avro_from_json(branch, value)
            if validate(converted, branch, raise_errors=False):
                return converted
        return value
    if schema == "bytes" and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return base64.b64decode(value, validate=True)
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if schema.get("logicalType") == "decimal" and isinstance(value, int | float | str | Decimal):
        with contextlib.suppress(ArithmeticError, ValueError):
            return Decimal(str(value))
    if kind in {"bytes", "fixed"} and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return base64.b64decode(value, validate=True)
    if kind == "record" and isinstance(value, dict):
        fields = {f["name"]: f["type"] for f in schema.get("fields", [])}
        return {k: _avro_from_json(fields[k], v) if k in fields else v for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [_avro_from_json(schema.get("items"), v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _avro_from_json(schema.get("values"), v) for k, v in value.items()}
    if isinstance(kind, dict | list):
        return _avro_from_json(kind, value)
    return value


def _avro_encode(schema_str: str, value: Any) -> bytes:
    import fastavro
    from fastavro.validation import ValidationError, validate

    parsed = fastavro.parse_schema(json.loads(schema_str))
    value = _avro_from_json(parsed, value)
    try:
        validate(value, parsed, raise_errors=True)
    except ValidationError as exc:
        # fastavro names each failing field: "Order.customer.card is <1> of type int ..."
        problems = "; ".join(str(e) for e in exc.errors) if exc.errors else str(exc)
        raise SchemaProblem(f"the value does not match the Avro schema: {problems}") from None
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, value)
    return buffer.getvalue()


def _linear(pattern: Any) -> Any:
    """A JSON Schema pattern compiled with RE2 (a registry's pattern is hostile input)."""
    from dashboard.kafka.linear import PatternError, linear_compile

    try:
        return linear_compile(str(pattern))
    except PatternError as exc:
        raise SchemaProblem(f"the JSON Schema pattern {str(pattern)[:80]!r}: {exc}") from None


def _linear_validator(base: Any) -> Any:
    """The schema's validator class with its regex keywords matched by RE2, not `re`."""
    import jsonschema
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not _linear(patrn).search(instance):
            yield ValidationError(f"{instance[:80]!r} does not match {str(patrn)[:80]!r}")

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            compiled = _linear(patrn)
            for k, v in instance.items():
                if compiled.search(k):
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    def additional_properties(validator: Any, ap: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        properties = schema.get("properties", {})
        compiled = [_linear(p) for p in schema.get("patternProperties", {})]
        extras = [
            k for k in instance if k not in properties and not any(c.search(k) for c in compiled)
        ]
        if validator.is_type(ap, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], ap, path=extra)
        elif not ap and extras:
            shown = ", ".join(repr(e[:40]) for e in sorted(extras)[:10])
            yield ValidationError(f"additional properties are not allowed ({shown})")

    def unevaluated(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        # jsonschema's own matches patternProperties with `re` here: not run at all.
        raise SchemaProblem("unevaluatedProperties is not checked here: use additionalProperties")

    keywords = {
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
    }
    if "unevaluatedProperties" in base.VALIDATORS:
        keywords["unevaluatedProperties"] = unevaluated
    return jsonschema.validators.extend(base, keywords)


def _json_check(schema_str: str, value: Any) -> None:
    import jsonschema

    try:
        schema = json.loads(schema_str)
    except (ValueError, RecursionError):
        raise SchemaProblem("the registry's JSON Schema is not JSON") from None
    validator_class = _linear_validator(jsonschema.validators.validator_for(schema))
    try:
        errors = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.path))
    except RecursionError:
        raise SchemaProblem("the JSON Schema or the value is nested too deep to check") from None
    if errors:
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e.path) or '(value)'}: {e.message}" for e in errors[:5]
        )
        raise SchemaProblem(f"the value does not match the JSON Schema: {shown}")


def _proto_encode(root: str, texts: dict[str, str], text: str) -> bytes:
    from google.protobuf import json_format, message_factory

    pool, name = proto_pool(root, texts)
    top = list(pool.FindFileByName(name).message_types_by_name.values())
    if not top:
        raise SchemaProblem(f"the Protobuf schema {root} defines no message")
    # The file's first message, as Confluent's serializers frame it: a lone 0 index.
    message = message_factory.GetMessageClass(top[0])()
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as exc:
        raise SchemaProblem(f"the value does not match {top[0].full_name}: {exc}") from None
    return b"\x00" + message.SerializeToString()


_decoders: dict[RegistryConfig, SchemaDecoder] = {}
_decoders_lock = threading.Lock()


def decoder_for(cluster: str) -> SchemaDecoder | None:
    """The cluster's decoder, None when it has no registry configured."""
    registry = cluster_config(cluster=cluster).schema_registry
    if registry is None:
        return None
    found = _decoders.get(registry)
    if found is not None:
        return found
    with _decoders_lock:
        return _decoders.setdefault(registry, SchemaDecoder(registry))


class DecodedMessage:
    """A consumed message whose wire-format key and value read as JSON (filters, masks see it).

    `schemas` says, for the key and the value, the writer's schema or why it could not be
    decoded; undecodable parts keep their original bytes.
    """

    __slots__ = ("_key", "_msg", "_value", "schemas")

    def __init__(self, msg: Any, decoder: SchemaDecoder) -> None:
        self._msg = msg
        self.schemas: dict[str, dict[str, object]] = {}
        topic = msg.topic()
        self._key = self._part(msg.key(), decoder, topic, "key")
        self._value = self._part(msg.value(), decoder, topic, "value")

    def _part(self, data: bytes | None, decoder: SchemaDecoder, topic: str, field: str) -> Any:
        if schema_id(data) is None:
            return data
        try:
            decoded, info = decoder.decode(data, topic=topic, field=field)
        except SchemaProblem as exc:
            self.schemas[field] = {"id": schema_id(data), "error": str(exc)}
            return data
        self.schemas[field] = info.as_json()
        return decoded

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._msg, name)


# --- browsing the registry (the schemas pages) -----------------------------------------


@dataclass(frozen=True)
class SubjectRow:
    """A subject: its latest version and schema type, and the topic it serves, if any."""

    subject: str
    latest_version: int
    schema_id: int
    type: str
    topic: str | None  # <topic>-key / <topic>-value when that topic exists
    field: str | None  # key or value


@dataclass(frozen=True)
class SubjectView:
    """One subject: its versions, compatibility level and one version's schema (read-only)."""

    subject: str
    versions: list[int]
    version: int
    schema_id: int
    type: str
    schema: str  # pretty JSON for Avro and JSON Schema, the .proto text for Protobuf
    references: list[dict[str, object]]
    compatibility: str
    topic: str | None
    field: str | None


def _registry_call(fn: Callable[[], Any], *, what: str) -> Any:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from dashboard.kafka.errors import RegistryNotFound, RegistryUnavailable

    try:
        return fn()
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            raise RegistryNotFound(f"{what} is not in the Schema Registry") from None
        raise RegistryUnavailable(
            f"the Schema Registry answered {exc.http_status_code}: {exc.error_message}"
        ) from None
    except Exception as exc:
        raise RegistryUnavailable(f"the Schema Registry did not answer: {exc}") from None


def _decoder_required(cluster: str) -> SchemaDecoder:
    from dashboard.kafka.errors import RegistryNotFound

    decoder = decoder_for(cluster)
    if decoder is None:
        raise RegistryNotFound(f"cluster {cluster!r} has no Schema Registry configured")
    return decoder


def subject_topic(subject: str, topics: set[str]) -> tuple[str | None, str | None]:
    """(topic, field) a subject belongs to under the registry's topic-bound naming strategies.

    TopicNameStrategy names `<topic>-key` / `<topic>-value` (field key or value);
    TopicRecordNameStrategy `<topic>-<record name>` (field None; the longest topic that
    prefixes the subject). RecordNameStrategy subjects (a bare record name) belong to no
    topic: (None, None), and scoped users do not see them (they cannot be checked).
    """
    for field in ("key", "value"):
        suffix = f"-{field}"
        if subject.endswith(suffix) and subject[: -len(suffix)] in topics:
            return subject[: -len(suffix)], field
    best = None
    for i, ch in enumerate(subject):
        if ch == "-" and i + 1 < len(subject) and subject[:i] in topics:
            best = subject[:i]
    return best, None


def subject_allowed(subject: str, *, topic: str) -> bool:
    """Whether a subject is one of the topic's own (what a scoped user may produce with)."""
    return subject.startswith(f"{topic}-") and len(subject) > len(topic) + 1


def subjects_list(*, cluster: str, topics: set[str]) -> list[SubjectRow]:
    """Every subject with its latest version (one registry request per subject)."""
    client = _decoder_required(cluster).client
    rows = []
    for subject in sorted(_registry_call(client.get_subjects, what="the subject list")):
        latest = _registry_call(
            functools.partial(client.get_latest_version, subject), what=f"subject {subject!r}"
        )
        topic, field = subject_topic(subject, topics)
        schema_type = (latest.schema.schema_type if latest.schema else None) or "AVRO"
        rows.append(
            SubjectRow(
                subject, int(latest.version), int(latest.schema_id), schema_type, topic, field
            )
        )
    return rows


def subject_view(*, cluster: str, subject: str, version: str, topics: set[str]) -> SubjectView:
    """A subject's versions, compatibility and one version (a number, or 'latest')."""
    from dashboard.kafka.errors import InvalidRequest

    client = _decoder_required(cluster).client
    what = f"subject {subject!r}"
    versions = sorted(_registry_call(lambda: client.get_versions(subject), what=what))
    if version != "latest" and not (version.isascii() and version.isdigit()):
        raise InvalidRequest(f"version must be 'latest' or a number, not {version[:20]!r}")
    chosen = _registry_call(
        lambda: (
            client.get_latest_version(subject)
            if version == "latest"
            else client.get_version(subject, int(version))
        ),
        what=f"{what} version {version}",
    )
    try:
        compatibility = str(client.get_compatibility(subject))
    except Exception:  # no subject-level setting: the registry's global one
        compatibility = str(_registry_call(client.get_compatibility, what="compatibility"))
    schema = chosen.schema
    kind = (schema.schema_type if schema else None) or "AVRO"
    text = (schema.schema_str if schema else "") or ""
    if kind in {"AVRO", "JSON"}:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    topic, field = subject_topic(subject, topics)
    return SubjectView(
        subject=subject,
        versions=versions,
        version=int(chosen.version),
        schema_id=int(chosen.schema_id),
        type=kind,
        schema=text,
        references=[
            {"name": r.name, "subject": r.subject, "version": r.version}
            for r in (schema.references or [] if schema else [])
        ],
        compatibility=compatibility.split(".")[-1],
        topic=topic,
        field=field,
    )


def topic_subjects(*, cluster: str, topic: str) -> tuple[list[SubjectRow], str]:
    """The topic's own subjects (<topic>-key, <topic>-value) and a problem to show, if any."""
    decoder = decoder_for(cluster)
    if decoder is None:
        return [], ""
    # Shared like the topic's Kafka reads: many viewers of one topic page, one lookup.
    return shared_read(("topic_subjects", cluster, topic), lambda: _topic_subjects(decoder, topic))


def _topic_subjects(decoder: SchemaDecoder, topic: str) -> tuple[list[SubjectRow], str]:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    rows: list[SubjectRow] = []
    for field in ("key", "value"):
        subject = f"{topic}-{field}"
        try:
            latest = decoder.client.get_latest_version(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                continue
            return rows, f"the Schema Registry answered {exc.http_status_code}"
        except Exception as exc:
            return rows, f"the Schema Registry did not answer: {exc}"
        schema_type = (latest.schema.schema_type if latest.schema else None) or "AVRO"
        rows.append(
            SubjectRow(
                subject,
                int(latest.version or 0),
                int(latest.schema_id or 0),
                schema_type,
                topic,
                field,
            )
        )
    return rows, ""
