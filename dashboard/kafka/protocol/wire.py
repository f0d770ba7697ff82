"""A small blocking Kafka connection for the requests librdkafka does not send.

One socket per broker, version negotiation by ApiVersions, optional TLS and SASL
(PLAIN, SCRAM-SHA-256/512) taken from the cluster's librdkafka settings. Every call
has a deadline; a connection that fails is closed and opened again next time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from dashboard.kafka.protocol.messages import (
    ProtocolError,
    decode,
    encode,
    request_header_version,
    response_header_version,
    spec,
)

CLIENT_ID = "kafkaview-protocol"
_SIZE = struct.Struct(">i")
_MAX_RESPONSE = 64 * 1024 * 1024


class Codec(Protocol):
    """A request that writes its own body and reads its own answer (a hot path's fast
    codec, e.g. fast.ListOffsetsAsk), in versions low-high."""

    name: str
    low: int
    high: int

    def encode(self, version: int) -> bytes: ...

    def decode(self, version: int, data: bytes, pos: int) -> Any: ...


class Unsupported(ProtocolError):
    """The broker or the cluster's settings do not allow a request we need."""


class BrokerError(ProtocolError):
    """A broker answered with an error code."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


def _scram_client(mechanism: str, username: str, password: str) -> tuple[Any, Any]:
    """RFC 5802 SCRAM as two steps: the first message, and a function of the server's."""
    algorithm = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    nonce = base64.b64encode(os.urandom(24)).decode()
    user = username.replace("=", "=3D").replace(",", "=2C")
    first_bare = f"n={user},r={nonce}"

    def final(server_first: bytes) -> tuple[bytes, bytes]:
        return scram_final(
            algorithm=algorithm,
            password=password,
            client_nonce=nonce,
            client_first_bare=first_bare,
            server_first=server_first.decode(),
        )

    return ("n,," + first_bare).encode(), final


SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS = 4096, 16384


def scram_final(
    *, algorithm: str, password: str, client_nonce: str, client_first_bare: str, server_first: str
) -> tuple[bytes, bytes]:
    """SCRAM's client-final message and the server signature it must answer with."""
    try:
        parts = dict(item.split("=", 1) for item in server_first.split(","))
        salt = base64.b64decode(parts["s"])
        iterations = int(parts["i"]) if len(parts["i"]) <= 9 else 0
    except (ValueError, KeyError):
        raise ProtocolError("SCRAM: the server's first message is malformed") from None
    if not parts.get("r", "").startswith(client_nonce):
        raise ProtocolError("SCRAM: the server's nonce does not extend ours")
    # Kafka's own bounds (ScramMechanism: 4096 to 16384): a hostile broker asking for
    # 2^31 rounds of PBKDF2 would hold a thread for hours.
    if not SCRAM_MIN_ITERATIONS <= iterations <= SCRAM_MAX_ITERATIONS:
        raise ProtocolError(
            f"SCRAM: the server asks for {parts['i'][:12]} iterations; Kafka allows "
            f"{SCRAM_MIN_ITERATIONS} to {SCRAM_MAX_ITERATIONS}"
        )
    salted = hashlib.pbkdf2_hmac(algorithm, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", algorithm).digest()
    stored = hashlib.new(algorithm, client_key).digest()
    without_proof = f"c=biws,r={parts['r']}"
    auth = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored, auth, algorithm).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", algorithm).digest()
    server_signature = hmac.new(server_key, auth, algorithm).digest()
    message = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
    return message, b"v=" + base64.b64encode(server_signature)


class Connection:
    """One broker connection; callers serialise on its lock."""

    def __init__(self, host: str, port: int, settings: Mapping[str, str], timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.lock = threading.Lock()
        self.versions: dict[int, tuple[int, int]] = {}
        self._ids = itertools.count(1)
        protocol = settings.get("security.protocol", "plaintext").lower()
        if protocol not in {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"}:
            raise Unsupported(f"security.protocol {protocol!r} is not supported")
        deadline = time.monotonic() + timeout
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock: socket.socket = (
                self._tls(raw, settings, host) if protocol.endswith("ssl") else raw
            )
            self._negotiate(deadline)
            if protocol.startswith("sasl"):
                self._sasl(settings, deadline)
        except BaseException:
            raw.close()
            raise

    @staticmethod
    def _tls(raw: socket.socket, settings: Mapping[str, str], host: str) -> socket.socket:
        context = ssl.create_default_context(cafile=settings.get("ssl.ca.location") or None)
        if settings.get("ssl.certificate.location"):
            context.load_cert_chain(
                settings["ssl.certificate.location"],
                settings.get("ssl.key.location") or None,
                settings.get("ssl.key.password") or None,
            )
        if settings.get("enable.ssl.certificate.verification", "true").lower() == "false":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif settings.get("ssl.endpoint.identification.algorithm", "https").lower() == "none":
            context.check_hostname = False
        return context.wrap_socket(raw, server_hostname=host)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _recv(self, n: int, deadline: float) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.host}:{self.port} did not answer in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise ConnectionError(f"{self.host}:{self.port} closed the connection")
            chunks += chunk
        return bytes(chunks)

    def _exchange(
        self, name: str, version: int, values: dict[str, Any] | Codec, deadline: float
    ) -> Any:
        correlation = next(self._ids)
        api_key = spec(f"{name}Request").api_key
        header = encode(
            "RequestHeader",
            request_header_version(f"{name}Request", version),
            {
                "RequestApiKey": api_key,
                "RequestApiVersion": version,
                "CorrelationId": correlation,
                "ClientId": CLIENT_ID,
            },
        )
        raw = (
            encode(f"{name}Request", version, values)
            if isinstance(values, dict)
            else values.encode(version)
        )
        body = header + raw
        self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self.sock.sendall(_SIZE.pack(len(body)) + body)
        (size,) = _SIZE.unpack(self._recv(4, deadline))
        if not 0 < size <= _MAX_RESPONSE:
            raise ProtocolError(f"{self.host}:{self.port} sent a frame of {size} bytes")
        data = self._recv(size, deadline)
        head, pos = decode(
            "ResponseHeader", response_header_version(f"{name}Response", version), data
        )
        if head["CorrelationId"] != correlation:
            raise ProtocolError("a response arrived for another request")
        if not isinstance(values, dict):
            return values.decode(version, data, pos)
        response, _ = decode(f"{name}Response", version, data, pos)
        return response

    def _negotiate(self, deadline: float) -> None:
        response = self._exchange(
            "ApiVersions",
            3,
            {"ClientSoftwareName": "kafkaview", "ClientSoftwareVersion": "1"},
            deadline,
        )
        if response["ErrorCode"] == 35:  # UNSUPPORTED_VERSION: an old broker, answer in v0
            response = self._exchange("ApiVersions", 0, {}, deadline)
        if response["ErrorCode"]:
            raise BrokerError(response["ErrorCode"], "ApiVersions failed")
        self.versions = {
            k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in response["ApiKeys"]
        }

    def _sasl(self, settings: Mapping[str, str], deadline: float) -> None:
        mechanism = settings.get(
            "sasl.mechanism", settings.get("sasl.mechanisms", "GSSAPI")
        ).upper()
        username, password = settings.get("sasl.username", ""), settings.get("sasl.password", "")
        if mechanism not in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}:
            raise Unsupported(f"SASL mechanism {mechanism} is not supported (PLAIN and SCRAM are)")
        handshake = self._exchange("SaslHandshake", 1, {"Mechanism": mechanism}, deadline)
        if handshake["ErrorCode"]:
            raise BrokerError(handshake["ErrorCode"], f"the broker refused SASL {mechanism}")

        def step(data: bytes) -> bytes:
            answer = self._exchange("SaslAuthenticate", 2, {"AuthBytes": data}, deadline)
            if answer["ErrorCode"]:
                raise BrokerError(
                    answer["ErrorCode"], answer["ErrorMessage"] or "SASL authentication failed"
                )
            return bytes(answer["AuthBytes"] or b"")

        if mechanism == "PLAIN":
            step(b"\0" + username.encode() + b"\0" + password.encode())
            return
        first, final = _scram_client(mechanism, username, password)
        message, expected = final(step(first))
        if not hmac.compare_digest(step(message), expected):
            raise ProtocolError("SCRAM: the server's signature does not match")

    def version(self, name: str, *, low: int | None = None, high: int | None = None) -> int:
        """The newest version of a request both we and the broker speak (within low-high)."""
        request = spec(f"{name}Request")
        ours_low = request.valid.low if low is None else max(low, request.valid.low)
        ours_high = request.valid.high if request.valid.high is not None else request.valid.low
        if high is not None:
            ours_high = min(ours_high, high)
        theirs = self.versions.get(-1 if request.api_key is None else request.api_key)
        if theirs is None or theirs[1] < ours_low or theirs[0] > ours_high:
            raise Unsupported(f"the broker at {self.host}:{self.port} does not offer {name}")
        return min(ours_high, theirs[1])

    def request(
        self,
        name: str,
        values: dict[str, Any] | Codec,
        *,
        timeout: float,
        low: int | None = None,
        high: int | None = None,
    ) -> Any:
        """Send one request (newest common version) and return the decoded response."""
        if not isinstance(values, dict):
            low = values.low if low is None else max(low, values.low)
            high = values.high if high is None else min(high, values.high)
        with self.lock:
            return self._exchange(
                name, self.version(name, low=low, high=high), values, time.monotonic() + timeout
            )
