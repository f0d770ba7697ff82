"""ASGI entry point: HTTP through Django, websockets through Channels (run by Daphne)."""

import asyncio
import contextlib
import ctypes
import os


def malloc_arenas_limit(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for the threads started from now on (no-op elsewhere)."""
    # Every tail has a librdkafka consumer with a few threads; glibc gives threads up to
    # 8 arenas per core, each keeping its freed memory. With 50 tails, capping them cut
    # Daphne's growth by ~15 MB (bench/tail.py) for no measurable loss of speed.
    M_ARENA_MAX = -8
    with contextlib.suppress(AttributeError, OSError):  # not glibc: nothing to cap
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)


def daphne_form_parsing_off() -> None:
    """Stop Twisted from parsing form bodies itself, on the event loop, for nothing."""
    # Twisted's Request parses a multipart POST body with the email package before Daphne
    # passes the raw body on (Daphne never reads what it parsed): a 115 MiB import froze
    # the whole process, every page and tail, for 3-4 s (py-spy dump). Twisted's own
    # switch for that is the constructor's parsePOSTFormSubmission (twisted#4519).
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by something else: nothing to turn off
        return
    if getattr(WebRequest, "_kafkaview_no_form_parsing", False):
        return
    original = WebRequest.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("parsePOSTFormSubmission", False)
        original(self, *args, **kwargs)

    WebRequest.__init__ = __init__
    WebRequest._kafkaview_no_form_parsing = True


class _Drain:
    """A push producer on a response: Twisted pauses it when the socket's buffer is full
    and resumes it when drained; the body's next part waits for that."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.ready.set()

    def pauseProducing(self) -> None:
        self.ready.clear()

    def resumeProducing(self) -> None:
        self.ready.set()

    def stopProducing(self) -> None:
        self.ready.set()


def daphne_backpressure() -> None:
    """Make a response body's `await send()` wait while the client is not reading."""
    # Daphne writes every part of a body into Twisted's buffer at once and returns: a
    # slow download of an export made the process hold all of it (the read was bounded
    # only by Kafka). ASGI lets send() wait; Twisted's producer interface (public:
    # Request.registerProducer) says when the socket takes data again.
    try:
        from daphne.server import Server
    except ImportError:
        return
    if getattr(Server, "_kafkaview_backpressure", False):
        return
    original = Server.handle_reply

    async def handle_reply(self, protocol, message):  # type: ignore[no-untyped-def]
        body = message.get("type") == "http.response.body"
        drain = getattr(protocol, "_kafkaview_drain", None)
        if body and not message.get("more_body", False) and drain is not None:
            protocol.unregisterProducer()  # the response ends: the connection may be reused
            protocol._kafkaview_drain = None
        await original(self, protocol, message)
        if not (body and message.get("more_body", False)):
            return
        if drain is None:
            drain = protocol._kafkaview_drain = _Drain()
            protocol.registerProducer(drain, True)
            if getattr(protocol.channel, "_waitingForTransport", False):
                drain.pauseProducing()
        while not drain.ready.is_set():
            connection = self.connections.get(protocol)
            if connection is None or connection.get("disconnected"):
                return  # gone: the application hears http.disconnect
            try:
                await asyncio.wait_for(drain.ready.wait(), 1.0)
            except TimeoutError:
                continue

    Server.handle_reply = handle_reply
    Server._kafkaview_backpressure = True


malloc_arenas_limit()
daphne_form_parsing_off()
daphne_backpressure()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaview.settings")
# Django must be set up before anything imports models (the auth middleware does).
from dashboard.web.handler import keeping_threads_application  # noqa: E402

django_asgi_app = keeping_threads_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
