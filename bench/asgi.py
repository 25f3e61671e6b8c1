"""The bench's ASGI app: the product's app plus ``/ws/bench/relay/``, a bare Channels
relay that group_sends every text frame it receives to the other sockets of its group.
It is the baseline the real chat consumers are compared with (bench/chat.py), served by
the same daphne process on the same channel layer. ``/ws/bench/durable/`` is the same
relay plus one committed INSERT per frame before it is sent on (PostgreSQL, through the
product's async pool): the floor of any relay that persists before fan-out. The product
never loads this module."""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()  # before the consumers import their models

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import path  # noqa: E402

from agents.routing import websocket_urlpatterns  # noqa: E402
from cartassist.asgi import application as product_application  # noqa: E402
from cartassist.core import async_db  # noqa: E402

DURABLE_TABLE = "bench_relay_log"
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {DURABLE_TABLE} "
            "(id bigserial PRIMARY KEY, room text NOT NULL, text text NOT NULL)"
        )
    connection.close()


class RelayConsumer(AsyncWebsocketConsumer):
    """Joins group ``bench.relay.<room>`` and relays each text frame to it: no auth, no
    parsing, no database."""

    async def connect(self) -> None:
        room = parse_qs(self.scope["query_string"].decode()).get("room", ["0"])[0]
        self.group = f"bench.relay.{room}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "relay.message", "text": text_data, "sender": self.channel_name}
        )

    async def relay_message(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send(text_data=event["text"])


class DurableRelayConsumer(RelayConsumer):
    """The bare relay plus one INSERT, committed before the frame is sent on."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await async_db.fetch(
            f"INSERT INTO {DURABLE_TABLE} (room, text) VALUES (%s, %s)",  # noqa: S608
            (self.group, text_data or ""),
        )
        await super().receive(text_data=text_data)


application = ProtocolTypeRouter(
    {
        "http": product_application,
        "websocket": URLRouter(
            # cast: django-stubs types path() for views only (see agents/routing.py)
            [
                path("ws/bench/relay/", cast(Any, RelayConsumer.as_asgi())),
                path("ws/bench/durable/", cast(Any, DurableRelayConsumer.as_asgi())),
                *websocket_urlpatterns,
            ]
        ),
    }
)
