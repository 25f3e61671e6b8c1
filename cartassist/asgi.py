"""ASGI entry point: HTTP (Django) and the widget and console WebSockets.

Embedded mode also starts the stall sweep thread here, so it runs only inside a process
that loads the ASGI app: the server (tests turn CARTASSIST_SWEEP_IN_PROCESS off).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartassist.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from agents.routing import websocket_urlpatterns  # noqa: E402
from cartassist.asgi_limits import BodySizeLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app, max_bytes=settings.CARTASSIST_MAX_BODY_BYTES),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

if settings.CARTASSIST_SWEEP_IN_PROCESS:
    from cartassist.scheduler import start_in_background

    start_in_background()
