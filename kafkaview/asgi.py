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


malloc_arenas_limit()

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
