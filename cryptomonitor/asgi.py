"""ASGI entry point served by daphne: HTTP through Django, WebSockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptomonitor.settings")
# Set up Django before importing anything that touches models (the consumers).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from cryptomonitor import websocket_protocol  # noqa: E402
from cryptomonitor.routing import websocket_urlpatterns  # noqa: E402
from cryptomonitor.websocket_auth import SocketAuthentication  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Our Origin (then the session cookie) or none (then a token or nobody).
        "websocket": SocketAuthentication(URLRouter(websocket_urlpatterns)),
    }
)


# The garbage collector's young generation in a daphne process (Python's
# default is 700 objects); see settle_process_heap().
GC_YOUNG_THRESHOLD = 50_000


def settle_process_heap() -> None:
    """Keep the garbage collector from pausing a server's fan-out.

    Every price batch leaves a few objects per socket alive until the next one
    (each consumer's pending receive), so with the default thresholds they are
    promoted, and a full collection ran every ~3 s in a daphne process holding
    2,500 sockets, pausing it ~250 ms to free nothing (bench/fanout.py). So:
    freeze what startup made (modules, settings, never garbage), which full
    collections then skip, and let the young generation grow to
    GC_YOUNG_THRESHOLD objects, so per-batch objects die young instead of
    being promoted. Full collections still run, rarely, and still free what
    closed sockets leave in cycles.
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


# Once, here: daphne imports this module once per process, after Django and
# every consumer are loaded, and before it builds its server.
settle_process_heap()
websocket_protocol.install()
