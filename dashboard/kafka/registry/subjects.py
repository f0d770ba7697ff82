"""Browsing the registry (the schemas pages): subjects, versions, the topic each belongs to."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.kafka.client.shared import shared_read
from dashboard.kafka.registry.client import SchemaDecoder, decoder_for
from dashboard.kafka.registry.framing import registry_failure, schema_kind


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
    from dashboard.kafka.errors import RegistryNotFound, RegistryUnavailable

    try:
        return fn()
    except Exception as exc:
        missing, why = registry_failure(exc)
        if missing:
            raise RegistryNotFound(f"{what} is not in the Schema Registry") from None
        raise RegistryUnavailable(f"the Schema Registry {why}") from None


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
        schema_type = schema_kind(latest.schema)
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
    kind = schema_kind(schema)
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
    rows: list[SubjectRow] = []
    for field in ("key", "value"):
        subject = f"{topic}-{field}"
        try:
            latest = decoder.client.get_latest_version(subject)
        except Exception as exc:
            missing, why = registry_failure(exc)
            if missing:
                continue
            return rows, f"the Schema Registry {why}"
        schema_type = schema_kind(latest.schema)
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
