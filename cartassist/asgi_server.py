"""The realtime process: daphne, with WebSocket size limits answered by a close frame.

daphne's autobahn factory refuses a WebSocket message or frame over its size limit (1 MiB
by default) by dropping the TCP connection: the client sees 1006 and no reason. Here
the limit is ``CARTASSIST_WEBSOCKET_MAX_BYTES`` and autobahn closes with 1009 (message
too big) as soon as a frame header announces more, before reading the payload
(docs/REALTIME.md, "Limits"). Everything else is daphne's command line, unchanged:

    python -m cartassist.asgi_server --bind 0.0.0.0 --port 8001 cartassist.asgi:application
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server


class RealtimeServer(Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chained: Callable[[], None] | None = getattr(self, "ready_callable", None)

        def ready() -> None:
            # Called by Server.run() once the WebSocket factory exists, before the reactor
            # accepts a connection; the application (and so the settings) is loaded.
            from django.conf import settings

            limit = settings.CARTASSIST_WEBSOCKET_MAX_BYTES
            self.ws_factory.setProtocolOptions(
                failByDrop=False, maxMessagePayloadSize=limit, maxFramePayloadSize=limit
            )
            if chained is not None:
                chained()

        self.ready_callable = ready


class RealtimeCommandLine(CommandLineInterface):
    server_class = RealtimeServer


if __name__ == "__main__":
    RealtimeCommandLine.entrypoint()
