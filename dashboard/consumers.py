"""Channels websocket consumers: thin, login required, errors as JSON frames."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close code for an unauthenticated socket (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401


class LoginRequiredJsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON websocket that refuses anyone not logged in."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        await self.on_open()

    async def on_open(self) -> None:
        """Called once the socket is accepted for a logged-in user."""

    async def send_error(self, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "message": message, **extra})


class TailConsumer(LoginRequiredJsonConsumer):
    """Live tail of a topic; the streaming itself arrives with the tail issue."""

    async def on_open(self) -> None:
        # Until the tail is built, say so plainly rather than leave the socket silent.
        await self.send_error("The live tail is not available in this version yet.")
        await self.close()
