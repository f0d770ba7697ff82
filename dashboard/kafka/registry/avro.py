"""Avro records read and written with the writer's schema (fastavro)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dashboard.kafka.registry.framing import SchemaProblem


def avro_reader(schema_str: str, named: dict[str, Any]) -> Callable[[bytes], Any]:
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


def avro_encode(schema_str: str, value: Any) -> bytes:
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
