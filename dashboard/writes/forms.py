"""Forms: what the user typed -> plain values for the kafka layer, or clear errors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from django import forms

from dashboard.kafka.errors import InvalidRequest
from dashboard.kafka.numbers import timestamp_ms, whole_number, whole_number_or_none
from dashboard.kafka.offsets import STRATEGIES, ResetRequest
from dashboard.kafka.partitioner import PARTITIONERS
from dashboard.kafka.produce import OutMessage

MAX_BULK_LINES = 10_000
MAX_FILE_BYTES = 5 * 1024 * 1024
ENCODINGS = [
    ("text", "text (UTF-8)"),
    ("json", "JSON (checked)"),
    ("base64", "base64 (binary)"),
]


def headers_parse(text: str) -> tuple[tuple[str, bytes], ...]:
    """'name: value' per line; a name may repeat and a value may be empty."""
    headers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise forms.ValidationError(
                f"Header line {number}: write it as 'name: value' (the value may be empty)."
            )
        headers.append((name.strip(), value.strip().encode()))
    return tuple(headers)


def value_encode(text: str, encoding: str) -> bytes:
    """The bytes to send for a value typed as text, JSON or base64."""
    if encoding == "json":
        try:
            json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError(f"The value is not valid JSON: {exc}.") from None
        return text.encode()
    if encoding == "base64":
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError(
                "The value is not valid base64 (A-Z, a-z, 0-9, +, / and = padding)."
            ) from None
    return text.encode()


def schema_encoder(
    *, cluster: str, only_topic: str | None = None
) -> Callable[[str, str, str], bytes] | None:
    """For the produce form: (subject, version, JSON text) -> wire bytes; None without registry.

    With only_topic (a scoped user), the subject must be one of that topic's own: checked
    before the registry is asked, so the answer says nothing of other subjects.
    """
    from dashboard.kafka.registry.client import decoder_for
    from dashboard.kafka.registry.framing import SchemaProblem
    from dashboard.kafka.registry.subjects import subject_allowed

    decoder = decoder_for(cluster)
    if decoder is None:
        return None

    def encode(subject: str, version: str, text: str) -> bytes:
        if only_topic is not None and not subject_allowed(subject, topic=only_topic):
            raise forms.ValidationError(
                f"Use one of this topic's subjects: {only_topic}-value, {only_topic}-key "
                f"or {only_topic}-<record name>."
            )
        try:
            data, _ = decoder.encode(subject=subject, version=version, text=text)
        except SchemaProblem as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    return encode


class ProduceForm(forms.Form):
    """One message: key, value, headers, partition and partitioner."""

    key = forms.CharField(
        required=False,
        max_length=10_000,
        strip=False,
        help_text="Leave empty to send without a key.",
    )
    value = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"})
    )
    encoding = forms.ChoiceField(choices=ENCODINGS, initial="text")
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "name: value (one per line)"}),
    )
    partition = forms.CharField(required=False, initial="auto")
    partitioner = forms.ChoiceField(choices=list(PARTITIONERS.items()), initial="murmur2")
    # With a registry: the value typed as JSON, checked and encoded with a subject's schema.
    subject = forms.CharField(required=False, max_length=500)
    schema_version = forms.CharField(required=False, max_length=20, initial="latest")

    def __init__(
        self,
        *args: Any,
        partitions: int,
        topic: str = "",
        encoder: Callable[[str, str, str], bytes] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.partitions = partitions
        self.encoder = encoder
        self.with_schema = encoder is not None  # (templates would call the encoder itself)
        if encoder is not None:
            encoding = self.fields["encoding"]
            assert isinstance(encoding, forms.ChoiceField)
            encoding.choices = [*ENCODINGS, ("schema", "schema (registry, JSON)")]
            self.fields["subject"].initial = f"{topic}-value"
        self.fields["partition"].widget = forms.Select(
            choices=[("auto", "automatic (partitioner)")]
            + [(str(p), f"partition {p}") for p in range(partitions)]
        )

    def clean_partition(self) -> int | None:
        raw = (self.cleaned_data.get("partition") or "auto").strip()
        if raw == "auto":
            return None
        number = whole_number_or_none(raw) if raw.isdigit() else None
        if number is None or number >= self.partitions:
            raise forms.ValidationError(
                f"Partition {raw[:20]!r} does not exist: "
                f"choose automatic or 0-{self.partitions - 1}."
            )
        return number

    def clean_headers(self) -> tuple[tuple[str, bytes], ...]:
        return headers_parse(self.cleaned_data.get("headers") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("encoding") == "schema" and self.encoder is not None and "value" in data:
            subject = (data.get("subject") or "").strip()
            if not subject:
                self.add_error("subject", "Name the subject whose schema encodes the value.")
                return data
            try:
                data["value_bytes"] = self.encoder(
                    subject, (data.get("schema_version") or "latest").strip(), data["value"]
                )
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        elif "value" in data and "encoding" in data:
            try:
                data["value_bytes"] = value_encode(data["value"], data["encoding"])
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        return data

    def message(self) -> OutMessage:
        """The message to send (call after is_valid())."""
        data = self.cleaned_data
        key = data["key"]
        return OutMessage(
            key=key.encode() if key else None,
            value=data["value_bytes"],
            headers=data["headers"],
            partition=data["partition"],
        )


def bulk_line(number: int, line: str) -> OutMessage:
    """A JSON object {key, value, headers}, or 'key<TAB>value', or a bare value."""
    if line.lstrip().startswith("{"):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError(f"line {number}: not valid JSON ({exc}).") from None
        if not isinstance(obj, dict):
            raise forms.ValidationError(f"line {number}: expected a JSON object.")
        unknown = set(obj) - {"key", "value", "headers", "partition"}
        if unknown:
            raise forms.ValidationError(f"line {number}: unknown field {sorted(unknown)[0]!r}.")
        key = obj.get("key")
        if key is not None and not isinstance(key, str):
            raise forms.ValidationError(f"line {number}: key must be a string or null.")
        value = obj.get("value")
        if value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        raw_headers = obj.get("headers") or {}
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        try:
            headers = tuple((str(n), ("" if v is None else str(v)).encode()) for n, v in pairs)
        except (TypeError, ValueError):
            raise forms.ValidationError(
                f"line {number}: headers must be an object or a list of [name, value]."
            ) from None
        partition = obj.get("partition")
        if partition is not None and (
            not isinstance(partition, int) or isinstance(partition, bool)
        ):
            raise forms.ValidationError(f"line {number}: partition must be a whole number.")
        return OutMessage(
            key=key.encode() if key is not None else None,
            value=value.encode() if value is not None else None,
            headers=headers,
            partition=partition,
            line=number,
        )
    if "\t" in line:
        key, value = line.split("\t", 1)
        return OutMessage(key=key.encode() or None, value=value.encode(), line=number)
    return OutMessage(key=None, value=line.encode(), line=number)


class BulkProduceForm(forms.Form):
    """Many messages pasted or uploaded: one a line."""

    lines = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='One message a line: key<TAB>value, a bare value, or {"key": …, "value": …, '
        '"headers": {…}}.',
    )
    file = forms.FileField(required=False, help_text="UTF-8 text, at most 5 MB.")
    partitioner = forms.ChoiceField(choices=list(PARTITIONERS.items()), initial="murmur2")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        text = data.get("lines") or ""
        if upload is not None:
            if upload.size > MAX_FILE_BYTES:
                raise forms.ValidationError(
                    f"The file is {upload.size:,} bytes; at most {MAX_FILE_BYTES:,} are taken."
                )
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    "The file is not UTF-8 text; send binary values as base64 in JSON lines."
                ) from None
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            raise forms.ValidationError("Paste some lines or choose a file.")
        if len(lines) > MAX_BULK_LINES:
            raise forms.ValidationError(f"At most {MAX_BULK_LINES:,} messages at a time.")
        messages, errors = [], []
        for number, line in lines:
            try:
                messages.append(bulk_line(number, line))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            shown = errors[:20] + ([f"… and {len(errors) - 20} more"] if len(errors) > 20 else [])
            raise forms.ValidationError(["Nothing was sent.", *shown])
        data["messages"] = messages
        return data


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return whole_number(raw if isinstance(raw, int | float | bool) else str(raw), name)


def _partitions(raw: Any) -> tuple[tuple[str, int], ...] | None:
    """'topic:0, topic:2' or [["topic", 0], ...] -> ((topic, 0), ...)."""
    if raw in (None, "", []):
        return None
    items: list[Any] = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    out = []
    for item in items:
        if isinstance(item, str):
            topic, sep, number = item.rpartition(":")
            parsed = whole_number_or_none(number) if number.isdigit() else None
            if not sep or not topic or parsed is None:
                raise InvalidRequest(f"{item[:60]!r}: write partitions as topic:number.")
            out.append((topic, parsed))
        elif (
            isinstance(item, list | tuple)
            and len(item) == 2
            and whole_number_or_none(item[1]) is not None
            and isinstance(item[1], int)
        ):
            out.append((str(item[0]), int(item[1])))
        else:
            raise InvalidRequest("partitions must be topic:number items.")
    return tuple(sorted(set(out)))


def _explicit_offsets(raw: Any) -> tuple[tuple[str, int, int], ...] | None:
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidRequest(
                "offsets must be JSON: [[topic, partition, offset], ...]."
            ) from None
    out = []
    for item in raw if isinstance(raw, list) else []:
        if (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and all(isinstance(x, int) and whole_number_or_none(x) is not None for x in item[1:])
        ):
            out.append((item[0], item[1], item[2]))
        else:
            raise InvalidRequest("offsets must be [[topic, partition, offset], ...].")
    if not out:
        raise InvalidRequest("offsets must be [[topic, partition, offset], ...].")
    return tuple(out)


def reset_request(data: Mapping[str, Any]) -> ResetRequest:
    """A reset request from form fields or a JSON body; InvalidRequest with what is wrong."""
    strategy = str(data.get("strategy") or "")
    if strategy not in STRATEGIES:
        raise InvalidRequest(f"strategy must be one of {', '.join(STRATEGIES)}.")
    raw_time = data.get("timestamp")
    when = None
    if strategy == "timestamp" and raw_time not in (None, ""):
        when = timestamp_ms(raw_time)
    topic = str(data.get("topic") or "").strip() or None
    return ResetRequest(
        strategy=strategy,
        topic=topic,
        partitions=_partitions(data.get("partitions")),
        offset=_opt_int(data, "offset") if strategy == "offset" else None,
        timestamp_ms=when,
        shift=_opt_int(data, "shift") if strategy == "shift" else None,
        source_group=(str(data.get("source_group") or "").strip() or None)
        if strategy == "copy"
        else None,
        offsets=_explicit_offsets(data.get("offsets")) if strategy == "offsets" else None,
    )
