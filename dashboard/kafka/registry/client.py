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

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from dashboard.kafka.client.clients import cluster_config
from dashboard.kafka.config import RegistryConfig
from dashboard.kafka.registry.avro import avro_encode, avro_reader
from dashboard.kafka.registry.framing import (
    MAGIC,
    SchemaInfo,
    SchemaProblem,
    registry_failure,
    schema_id,
    schema_kind,
    to_json,
)
from dashboard.kafka.registry.json_schema import json_check, json_reader
from dashboard.kafka.registry.protobuf import (
    MAX_REFERENCES,
    PROTOC_TIMEOUT,
    proto_encode,
    proto_import_check,
    proto_reader,
)

# A registry lookup may take this long before the record is shown undecoded.
LOOKUP_TIMEOUT = 3.0
# A failed lookup is not repeated for this long (seconds).
RETRY_AFTER = 5.0
# Schema ids a decoder keeps parsed, and failed ids it remembers (both bounded: a hostile
# producer can frame records with any id it likes).
MAX_WRITERS = 4096
MAX_FAILED = 1024


@dataclass(frozen=True)
class _Writer:
    info: SchemaInfo
    read: Callable[[bytes], Any]


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
        try:
            schema = self.client.get_schema(sid)
        except Exception as exc:
            missing, why = registry_failure(exc)
            if missing:
                raise SchemaProblem(f"schema id {sid} is not in the registry") from None
            raise SchemaProblem(f"the registry {why}") from None
        kind = schema_kind(schema)
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
                return _Writer(info, avro_reader(schema.schema_str or "null", named))
            except SchemaProblem:
                raise
            except Exception as exc:
                raise SchemaProblem(f"the Avro schema {sid} could not be read: {exc}") from None
        if kind == "JSON":
            return _Writer(info, json_reader)
        if kind == "PROTOBUF":
            texts = {f"schema-{sid}.proto": schema.schema_str or ""}
            self._references(schema.references or [], texts)
            return _Writer(info, proto_reader(f"schema-{sid}.proto", texts))
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
        if version != "latest" and not (version.isascii() and version.isdigit()):
            raise SchemaProblem(f"version must be 'latest' or a number, not {version!r}")
        try:
            found = (
                self.client.get_latest_version(subject)
                if version == "latest"
                else self.client.get_version(subject, int(version))
            )
        except Exception as exc:
            missing, why = registry_failure(exc)
            if missing:
                raise SchemaProblem(
                    f"subject {subject!r} has no version {version} in the registry"
                ) from None
            raise SchemaProblem(f"the registry {why}") from None
        schema = found.schema
        if schema is None or found.schema_id is None:
            raise SchemaProblem(f"subject {subject!r} version {version} has no schema")
        sid, kind = int(found.schema_id), schema_kind(schema)
        info = SchemaInfo(sid, kind, found.subject, found.version)
        head = bytes([MAGIC]) + sid.to_bytes(4, "big")
        try:
            value = json.loads(text, parse_float=Decimal) if kind == "AVRO" else json.loads(text)
        except ValueError as exc:
            raise SchemaProblem(f"the value is not valid JSON: {exc}") from None
        if kind == "AVRO":
            return head + avro_encode(schema.schema_str or "null", value), info
        if kind == "JSON":
            json_check(schema.schema_str or "{}", value)
            return head + orjson.dumps(value), info
        if kind == "PROTOBUF":
            texts = {f"schema-{sid}.proto": schema.schema_str or ""}
            self._references(schema.references or [], texts)
            return head + proto_encode(f"schema-{sid}.proto", texts, text), info
        raise SchemaProblem(f"{kind} schemas cannot be produced with")


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
