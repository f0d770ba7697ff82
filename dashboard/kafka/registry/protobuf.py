"""Protobuf records read and written without compiled classes: the registry's .proto text
through protoc (in a child process, names never paths) or a base64 FileDescriptorProto."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from dashboard.kafka.registry.framing import SchemaProblem


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


def proto_reader(root: str, texts: dict[str, str]) -> Callable[[bytes], Any]:
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


def proto_encode(root: str, texts: dict[str, str], text: str) -> bytes:
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
