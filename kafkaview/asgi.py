"""ASGI entry point: HTTP through Django, websockets through Channels (run by Daphne)."""

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


malloc_arenas_limit()
daphne_form_parsing_off()

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
