"""A websocket client of the tail for security tests: any user, every frame kept."""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from tests.integration.test_tail import APP


class Socket:
    """The tail socket of one user (in-process, through the real consumer)."""

    def __init__(self, topic: str, user: Any, app: Any = APP, headers: Any = None) -> None:
        path = f"/ws/clusters/local/topics/{topic}/tail/"
        self.comm = WebsocketCommunicator(app, path, headers=headers or [])
        if user is not None:
            self.comm.scope["user"] = user
        self.frames: list[dict] = []
        self.closed: int | None = None

    async def open(self) -> dict:
        connected, _ = await self.comm.connect(timeout=10)
        assert connected
        return await self.next()

    async def send(self, frame: Any) -> None:
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def next(self, timeout: float = 15) -> dict:
        """The next frame (a close is returned as {"type": "closed", "code": ...})."""
        out = await self.comm.receive_output(timeout=timeout)
        if out["type"] == "websocket.close":
            self.closed = out.get("code")
            frame = {"type": "closed", "code": self.closed}
        else:
            frame = json.loads(out["text"])
        self.frames.append(frame)
        if frame["type"] == "batch":
            await self.send({"type": "ack", "seq": frame["seq"]})
        return frame

    async def until(self, *types: str, timeout: float = 15) -> dict:
        while (frame := await self.next(timeout)).get("type") not in types:
            if frame["type"] == "closed":
                return frame
        return frame

    def records(self) -> list[dict]:
        return [r for f in self.frames if f["type"] == "batch" for r in f["records"]]

    def text(self) -> str:
        """Every frame received, as one JSON text (to look for a leak in any spelling), but
        the `started` frames: they echo the reader's own filter back to them."""
        return json.dumps([f for f in self.frames if f.get("type") != "started"])

    async def close(self) -> None:
        await self.comm.disconnect()
