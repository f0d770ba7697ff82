"""JSON Schema records: read as JSON, checked against the schema with its patterns on RE2."""

from __future__ import annotations

import json
from typing import Any

import orjson

from dashboard.kafka.registry.framing import SchemaProblem


def json_reader(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SchemaProblem(f"not JSON: {exc}") from None


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


def json_check(schema_str: str, value: Any) -> None:
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
