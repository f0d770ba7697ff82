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
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from dashboard.kafka.clusters import cluster_config
from dashboard.kafka.config import RegistryConfig

# A registry lookup may take this long before the record is shown undecoded.
LOOKUP_TIMEOUT = 3.0
# A failed lookup is not repeated for this long (seconds).
RETRY_AFTER = 5.0
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
        self._lock = threading.Lock()

    def writer(self, sid: int, *, topic: str, field: str) -> _Writer:
        """The parsed writer schema of an id (cached); SchemaProblem when it cannot be had."""
        found = self._writers.get(sid)
        if found is not None:
            return found
        with self._lock:
            failed = self._failed.get(sid)
            if failed is not None and time.monotonic() < failed[0]:
                raise SchemaProblem(failed[1])
            try:
                found = self._fetch(sid, topic=topic, field=field)
            except SchemaProblem as exc:
                self._failed[sid] = (time.monotonic() + RETRY_AFTER, str(exc))
                raise
            self._failed.pop(sid, None)
            self._writers[sid] = found
            return found

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
        raise SchemaProblem(f"{kind} records are not decoded yet (schema id {sid})")

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
