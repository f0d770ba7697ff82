"""The tail's websocket consumer: thin, login required, errors as JSON frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from dashboard.access.policy import scope_of, topic_check
from dashboard.kafka.errors import KafkaViewError, TooManyTails
from dashboard.kafka.tail.request import page_size, tail_request
from dashboard.kafka.tail.session import TailBudget, TailSession, tail_plan
from dashboard.tail.frames import batch_frame, done_frame, hello_frame, started_frame, stats_frame
from dashboard.web.errors import Problem, problem_of
from dashboard.writes.services import read_finish, read_start

log = logging.getLogger(__name__)

# Daphne's websocket (autobahn) refuses frames over 1 MiB; stay below with a margin.
MAX_FRAME_BYTES = 1_000_000

_budget: TailBudget | None = None


def tail_budget() -> TailBudget:
    """The memory all the tails of this process share (KAFKAVIEW_TAIL_MEMORY_MB)."""
    global _budget  # noqa: PLW0603 - one budget per process, made on first use
    if _budget is None:
        _budget = TailBudget(settings.KAFKAVIEW_TAIL_MEMORY_MB * 1024 * 1024)
    return _budget


# Close code for an unauthenticated socket (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401

# Running tails of this process, by user id: a cap per user and one for the process, so
# one user (or a script) cannot open a thousand Kafka consumers in a web process.
_running: dict[int, int] = {}


def tails_running(user_id: int | None = None) -> int:
    """Tails running in this process: of one user, or of everyone."""
    return _running.get(user_id, 0) if user_id is not None else sum(_running.values())


def _tail_slot_take(user_id: int) -> None:
    if tails_running(user_id) >= settings.KAFKAVIEW_TAILS_PER_USER:
        raise TooManyTails(
            f"You have {settings.KAFKAVIEW_TAILS_PER_USER} tails or searches open in this web "
            "process, the most allowed (KAFKAVIEW_TAILS_PER_USER): stop one first."
        )
    if tails_running() >= settings.KAFKAVIEW_TAILS_PER_PROCESS:
        raise TooManyTails(
            f"This web process runs {settings.KAFKAVIEW_TAILS_PER_PROCESS} tails, the most "
            "allowed (KAFKAVIEW_TAILS_PER_PROCESS): try again when one has stopped."
        )
    _running[user_id] = _running.get(user_id, 0) + 1


def _tail_slot_free(user_id: int) -> None:
    left = _running.get(user_id, 0) - 1
    if left > 0:
        _running[user_id] = left
    else:
        _running.pop(user_id, None)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def session_user(scope: dict[str, Any]) -> Any:
    """The socket's user as its session says now (AnonymousUser once logged out).

    The socket's scope holds the user read at connect; a logout, a password change or
    a deactivation since then is only seen by reading the session and the user again.
    """
    from importlib import import_module

    from django.contrib.auth import get_user
    from django.contrib.auth.models import AnonymousUser

    if "session" not in scope:
        # No session middleware in front (a test's bare consumer): nothing to read again.
        return scope.get("user") or AnonymousUser()
    session = scope["session"]
    key = getattr(session, "session_key", None)
    if not key:
        return AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)

    class _Request:  # what get_user reads: the session, nothing else
        pass

    request = _Request()
    request.session = engine.SessionStore(session_key=key)  # type: ignore[attr-defined]
    return get_user(request)  # type: ignore[arg-type]


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

    async def decode_json(self, text_data: str) -> Any:
        # Infinity and NaN are not JSON (json.loads takes them; int() of them raises).
        try:
            return json.loads(text_data, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return None

    async def send_problem(self, problem: Problem) -> None:
        """An error frame, in the same shape as the JSON answers' errors."""
        await self.send_json(problem.frame())

    async def send_error(self, message: str, kind: str = "invalid_request") -> None:
        """An error frame for a bad frame from the client (or a server-side failure)."""
        await self.send_problem(Problem(400, kind, message))


class TailConsumer(LoginRequiredJsonConsumer):
    """Live tail of a topic: start/ack/more/pause/resume/stop in, started/batch/stats/error out.

    Records leave in batches at most FRAME_INTERVAL apart, and at most WINDOW batches
    may be unacknowledged: a browser that stops reading stops being sent to, the
    session's buffer fills and it stops fetching (Kafka keeps the data) until the
    reader catches up. Nothing is dropped; stats say how far behind the reader is.
    """

    FRAME_INTERVAL = 0.05  # at most ~20 frames a second
    STATS_INTERVAL = 1.0
    WINDOW = 4
    BACKLOG_RECORDS = 500  # this many waiting after a frame: send the next one now
    FRAME_BYTES = 640 * 1024  # of records' JSON in one frame (Daphne's limit is 1 MiB)
    TIGHT_FRAME_BYTES = 64 * 1024
    IDLE_WAKE = 0.25  # with nothing to send, look at errors and stats this often

    async def on_open(self) -> None:
        self.cluster = self.scope["url_route"]["kwargs"]["cluster"]
        self.topic = self.scope["url_route"]["kwargs"]["topic"]
        self.session: TailSession | None = None
        self.read_record: Any = None
        self.sender: asyncio.Task[None] | None = None
        self.slot_user: int | None = None  # whose tail slot this socket holds
        self.closed = False
        self.seq = 0
        self.acked = 0
        # Bytes of each frame sent and not yet acknowledged: they wait in Twisted's
        # buffers or on the wire, so they count against the process's tail budget.
        self.unacked: dict[int, int] = {}
        # Set when records wait, a search ends or an ack opens the window: the send loop
        # sleeps on it rather than waking every few milliseconds to look.
        self.wake = asyncio.Event()
        if not await self.recheck():
            return
        self.rechecker = asyncio.create_task(self.recheck_loop())
        await self.send_json(hello_frame(cluster=self.cluster, topic=self.topic))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_error(
                "Send JSON objects with a type: start, ack, more, pause, resume, stop."
            )
            return
        kind = content.get("type")
        if kind == "start":
            await self.start_tail(content)
        elif kind == "ack":
            seq = content.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                self.acked = max(self.acked, min(seq, self.seq))
                self.release(upto=self.acked)
                self.wake.set()
        elif kind == "more":
            if self.session is None:
                await self.send_error("Nothing to continue: start a tail first.")
                return
            try:
                self.session.more(page_size(content.get("count", 500), "count"))
                self.wake.set()
            except KafkaViewError as exc:
                await self.send_problem(problem_of(exc))
        elif kind in {"pause", "resume"}:
            if self.session is None:
                await self.send_error(f"Nothing to {kind}: start a tail first.")
                return
            (self.session.pause if kind == "pause" else self.session.resume)()
            await self.send_stats()
        elif kind == "stop":
            await self.stop_tail()
            await self.send_json({"type": "stopped"})
        else:
            await self.send_error(f"Unknown message type {str(kind)[:40]!r}.")

    async def recheck(self) -> bool:
        """Read the session, the user and their scope again; close the socket if they went.

        A logged-out or deactivated user's socket closes with 4401; one whose rules no
        longer let them see (4404) or tail (4403) the topic closes with that code.
        """
        user = await database_sync_to_async(session_user)(self.scope)
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            await self.stop_tail()
            await self.send_problem(
                Problem(401, "not_authenticated", "Your session has ended: log in again.")
            )
            await self.close_once(CLOSE_UNAUTHENTICATED)
            return False
        self.scope["user"] = user
        self.access = await database_sync_to_async(scope_of)(user)
        try:
            topic_check(self.access, self.cluster, self.topic, "tail")
        except KafkaViewError as exc:
            # Hidden: as if it did not exist (404); visible but not for tailing: 403.
            await self.stop_tail()
            problem = problem_of(exc)
            await self.send_problem(problem)
            await self.close_once(4000 + problem.status)
            return False
        return True

    async def recheck_loop(self) -> None:
        """Re-check the session and scope every RECHECK_SECONDS while the socket is open."""
        with contextlib.suppress(asyncio.CancelledError):
            while not self.closed:
                await asyncio.sleep(settings.KAFKAVIEW_SOCKET_RECHECK)
                try:
                    if not await self.recheck():
                        return
                except Exception:
                    log.exception("re-checking the session of a tail socket failed")

    async def close_once(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def start_tail(self, params: dict[str, Any]) -> None:
        await self.stop_tail()
        if not await self.recheck():  # scope as it is now, not as it was at connect
            return
        user = self.scope["user"]
        user_id = int(user.pk) if user.pk is not None else id(user)
        try:
            _tail_slot_take(user_id)
        except KafkaViewError as exc:
            await self.send_problem(problem_of(exc))
            return
        self.slot_user = user_id
        try:
            request = tail_request(topic=self.topic, params=params)
            starts = await asyncio.to_thread(tail_plan, cluster=self.cluster, request=request)
            loop, wake = asyncio.get_running_loop(), self.wake

            def notify() -> None:  # from the session's poll thread
                loop.call_soon_threadsafe(wake.set)

            session = TailSession(
                cluster=self.cluster,
                request=request,
                starts=starts,
                budget=tail_budget(),
                limit=request.limit,
                notify=notify,
                masker=self.access.masker(self.topic),
            )
            await asyncio.to_thread(session.start)
        except KafkaViewError as exc:
            self.slot_free()
            await self.send_problem(problem_of(exc))
            return
        except BaseException:
            self.slot_free()
            raise
        self.session = session
        try:
            self.read_record = await database_sync_to_async(read_start)(
                user=self.scope["user"], cluster=self.cluster, topic=self.topic, request=request
            )
        except Exception:
            # The tail goes on; the missing record is said in the log.
            log.exception("could not record the read of %s on %s", self.topic, self.cluster)
        self.release(upto=self.seq)
        self.seq = self.acked = 0
        await self.send_json(started_frame(topic=self.topic, request=request, starts=starts))
        self.sender = asyncio.create_task(self.send_loop(session))

    async def send_loop(self, session: TailSession) -> None:
        try:
            await self._send_loop(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Say so on the socket and in the log rather than go silent.
            log.exception("tail of %s on %s failed", self.topic, self.cluster)
            await self.send_error(
                "The tail stopped on a server error; start it again.", kind="server_error"
            )

    async def _send_loop(self, session: TailSession) -> None:
        next_stats = 0.0
        loop = asyncio.get_running_loop()
        last_error: str | None = None
        backlog = False
        frame_at = 0.0  # a live tail sends at most one frame per FRAME_INTERVAL
        while True:
            if backlog:
                # A full frame sent, more waiting, the window open: send on at once (a
                # pause between full frames capped a catching-up tail at 20 frames/s).
                await asyncio.sleep(0)
            else:
                delay = frame_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)  # gather records into fewer frames
                idle = not session.sendable() or not self.window_open()
                if idle and session.finished() is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.IDLE_WAKE)
                self.wake.clear()
            backlog = False
            if self.window_open() and await self.send_drained(session):
                frame_at = loop.time() + self.FRAME_INTERVAL
                backlog = session.sendable() >= self.BACKLOG_RECORDS and self.window_open()
            if session.stats.error != last_error:
                last_error = session.stats.error
                if last_error:
                    await self.send_error(
                        f"Cluster {self.cluster!r} is not answering ({last_error}); "
                        "the tail goes on where it was when it is back.",
                        kind="cluster_unavailable",
                    )
            now = loop.time()
            if now >= next_stats:
                next_stats = now + self.STATS_INTERVAL
                await self.send_stats()
            reason = session.finished()
            if reason is not None:
                # A search ends by itself once its range is scanned and its matches sent.
                await self.send_stats()
                await self.send_json(done_frame(session, reason))
                return

    async def send_drained(self, session: TailSession) -> bool:
        """Send what the session holds as a batch; whether there was anything."""
        # A function of its own so the drained records die with it: kept in a local of
        # the send loop, fifty tails held ~100,000 sent records while they waited.
        # With the budget spent, a socket still gets its one frame in flight, but a small
        # one: fifty full frames past the budget were 30 MB (bench/tail.py).
        tight = tail_budget().exhausted()
        records = session.drain(max_bytes=self.TIGHT_FRAME_BYTES if tight else self.FRAME_BYTES)
        if records:
            await self.send_batch(records)
        return bool(records)

    async def send_batch(self, records: list[bytes]) -> None:
        """Send encoded records as one frame, split in halves past Daphne's frame limit."""
        size = sum(len(r) + 1 for r in records) + 64
        if size > MAX_FRAME_BYTES and len(records) > 1:
            half = len(records) // 2
            await self.send_batch(records[:half])
            await self.send_batch(records[half:])
            return
        self.seq += 1
        frame = batch_frame(self.seq, records)
        self.unacked[self.seq] = len(frame)
        tail_budget().add(len(frame))
        await self.send(text_data=frame.decode())

    def window_open(self) -> bool:
        """Whether another frame may go: fewer than WINDOW unacknowledged, and the
        process's budget not spent (one frame in flight per socket is always allowed)."""
        in_flight = self.seq - self.acked
        return in_flight == 0 or (in_flight < self.WINDOW and not tail_budget().exhausted())

    def release(self, *, upto: int) -> None:
        """Frames up to seq upto were acknowledged (or will never be): free their bytes."""
        freed = sum(self.unacked.pop(seq) for seq in [s for s in self.unacked if s <= upto])
        if freed:
            tail_budget().add(-freed)

    async def send_stats(self) -> None:
        session = self.session
        if session is None:
            return
        await self.send_json(stats_frame(session))

    def slot_free(self) -> None:
        if self.slot_user is not None:
            _tail_slot_free(self.slot_user)
            self.slot_user = None

    async def stop_tail(self) -> None:
        self.slot_free()
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sender
            self.sender = None
        self.release(upto=self.seq)  # a stopped tail's frames are no longer waited for
        if self.session is not None:
            session, self.session = self.session, None
            await asyncio.to_thread(session.stop)
            if self.read_record is not None:
                record, self.read_record = self.read_record, None
                try:
                    await database_sync_to_async(read_finish)(record, stats=session.stats)
                except Exception:
                    log.exception("could not complete the read record %s", record.pk)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        rechecker = getattr(self, "rechecker", None)
        if rechecker is not None:
            rechecker.cancel()
        if hasattr(self, "session"):
            await self.stop_tail()
