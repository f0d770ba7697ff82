"""Confluent's wire format: a zero byte, the schema id (4 bytes, big-endian), the payload;
the schema problems and labels every codec shares (pure)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

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


def schema_kind(schema: Any) -> str:
    """A registry schema's type (AVRO, PROTOBUF, JSON); Avro when it names none, as Confluent's."""
    return str((getattr(schema, "schema_type", None) if schema else None) or "AVRO").upper()


def registry_failure(exc: Exception) -> tuple[bool, str]:
    """(the registry said 404, what went wrong in words) for a failed registry call.

    The words start "answered N: ..." or "did not answer: ..."; each caller puts its
    name for the registry in front.
    """
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    if isinstance(exc, SchemaRegistryError):
        code = exc.http_status_code
        return code == 404, f"answered {code}: {exc.error_message}"
    return False, f"did not answer: {exc}"  # httpx's connection errors and timeouts


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
