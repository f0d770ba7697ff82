"""A member of a classic group of any protocol type, e.g. a Kafka Connect-style `connect` group.

Kafka Connect workers join a classic group with protocol type `connect`; librdkafka
clients can only say `consumer`. This member speaks JoinGroup/SyncGroup/Heartbeat
itself (through the kafka layer's protocol module), so the tests and the demo can
show a group that librdkafka's own listing would hide.
"""

from __future__ import annotations

import threading
from typing import Any

from dashboard.kafka.protocol.wire import Connection

MEMBER_ID_REQUIRED = 79
REBALANCE_IN_PROGRESS = 27


class ClassicGroupMember:
    """Joins `group` with `protocol_type`, keeps heartbeating in a thread, leaves on close()."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        group: str,
        protocol_type: str = "connect",
        protocol: str = "sessioned",
        client_settings: dict[str, str] | None = None,
    ) -> None:
        self.group, self.protocol_type, self.protocol = group, protocol_type, protocol
        self.settings = client_settings or {}
        bootstrap = Connection(host, port, self.settings, 10)
        found = bootstrap.request(
            "FindCoordinator", {"KeyType": 0, "CoordinatorKeys": [group]}, timeout=10, low=4
        )
        bootstrap.close()
        (coordinator,) = found["Coordinators"]
        if coordinator["ErrorCode"]:
            raise RuntimeError(f"FindCoordinator failed: error {coordinator['ErrorCode']}")
        self.conn = Connection(coordinator["Host"], coordinator["Port"], self.settings, 10)
        self.member_id = ""
        self.generation = -1
        self._stop = threading.Event()
        self._join()
        self._thread = threading.Thread(target=self._beat, name=f"member-{group}", daemon=True)
        self._thread.start()

    def _request(self, name: str, values: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        return self.conn.request(name, values, timeout=timeout)

    def _join(self) -> None:
        for _ in range(5):
            joined = self._request(
                "JoinGroup",
                {
                    "GroupId": self.group,
                    "SessionTimeoutMs": 10_000,
                    "RebalanceTimeoutMs": 10_000,
                    "MemberId": self.member_id,
                    "GroupInstanceId": None,
                    "ProtocolType": self.protocol_type,
                    "Protocols": [{"Name": self.protocol, "Metadata": b"\x00\x01"}],
                    "Reason": None,
                },
            )
            if joined["ErrorCode"] == MEMBER_ID_REQUIRED:
                self.member_id = joined["MemberId"]
                continue
            if joined["ErrorCode"]:
                raise RuntimeError(f"JoinGroup failed: error {joined['ErrorCode']}")
            self.member_id, self.generation = joined["MemberId"], joined["GenerationId"]
            leader = joined["Leader"] == self.member_id
            assignments = (
                [{"MemberId": m["MemberId"], "Assignment": b""} for m in joined["Members"]]
                if leader
                else []
            )
            synced = self._request(
                "SyncGroup",
                {
                    "GroupId": self.group,
                    "GenerationId": self.generation,
                    "MemberId": self.member_id,
                    "GroupInstanceId": None,
                    "ProtocolType": self.protocol_type,
                    "ProtocolName": self.protocol,
                    "Assignments": assignments,
                },
            )
            if synced["ErrorCode"] == REBALANCE_IN_PROGRESS:
                continue
            if synced["ErrorCode"]:
                raise RuntimeError(f"SyncGroup failed: error {synced['ErrorCode']}")
            return
        raise RuntimeError("could not join the group in 5 attempts")

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            answer = self._request(
                "Heartbeat",
                {
                    "GroupId": self.group,
                    "GenerationId": self.generation,
                    "MemberId": self.member_id,
                    "GroupInstanceId": None,
                },
                timeout=10,
            )
            if answer["ErrorCode"] == REBALANCE_IN_PROGRESS and not self._stop.is_set():
                self._join()

    def close(self) -> None:
        """Stop heartbeating and leave the group."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._request(
            "LeaveGroup",
            {
                "GroupId": self.group,
                "Members": [{"MemberId": self.member_id, "GroupInstanceId": None, "Reason": None}],
            },
            timeout=10,
        )
        self.conn.close()

    def __enter__(self) -> ClassicGroupMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
