"""A Redis pub/sub channel layer with a bound on each consumer's queue.

``RedisPubSubChannelLayer`` relays with lower latency and higher throughput than the core
Redis layer (docs/PERFORMANCE.md), but its per-channel queues are unbounded: one socket
that stops reading would grow without limit. Here each channel's queue holds at most
``capacity`` messages. On overflow the queue is emptied and replaced by one
``layer.overflow`` message; the consumer then closes the socket (code 4008) and the
client reconnects and resynchronises from its last sequence number. Nothing is lost,
because every message is persisted before it is published.

When the subscriber connection to Redis fails (Redis restarted, network cut), whatever
was published until redis-py has reconnected and resubscribed is gone for this process,
and nothing else would tell its sockets. So once the connection is back, every local
consumer gets one ``layer.resync`` message; the consumer closes its socket (4008) and
the client reconnects and resyncs from the database (docs/REALTIME.md, "Delivery"; ADR
0011). Until then the sockets stay open: what clients send is stored (and echoed to the
sender), and reaches the other side with that resync.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

OVERFLOW_MESSAGE = {"type": "layer.overflow"}
RESYNC_MESSAGE = {"type": "layer.resync"}
# What a lost subscriber connection raises (OSError covers refused and reset sockets).
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class _BoundedShard(RedisSingleShardConnection):
    interrupted = False  # the subscriber connection failed and is not known to be back

    async def _do_receiving(self) -> None:
        """channels-redis's receive loop, plus: once the subscriber connection is back
        after a failure (redis-py reconnects and resubscribes by itself on the next
        read), tell every local consumer to resync."""
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if self.interrupted:
                        self.interrupted = False
                        logger.warning("channel layer: Redis is back; sockets resync")
                        self._broadcast(RESYNC_MESSAGE)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except CONNECTION_ERRORS as exc:
                if not self.interrupted:
                    self.interrupted = True
                    logger.warning("channel layer: lost Redis (%r); reconnecting", exc)
                await asyncio.sleep(0.5)
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)

    def _broadcast(self, event: dict[str, Any]) -> None:
        """Put ``event`` on every local consumer's queue (a full queue is emptied first:
        the consumer is about to close its socket either way)."""
        layer = self.channel_layer
        data = layer.channel_layer.serialize(event)
        for queue in list(layer.channels.values()):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(data)

    def _receive_message(self, message: Any) -> None:
        if message is None:
            return
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        if name in layer.channels:
            targets = [name]
        else:
            targets = [c for c in layer.groups.get(name, ()) if c in layer.channels]
        for channel in targets:
            queue: asyncio.Queue[Any] = layer.channels[channel]
            try:
                queue.put_nowait(message["data"])
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(layer.channel_layer.serialize(OVERFLOW_MESSAGE))


class _BoundedLoopLayer(RedisPubSubLoopLayer):
    _shards: list[Any]

    def __init__(self, *args: Any, capacity: int = 200, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity
        self._shards = [_BoundedShard(shard.host, self) for shard in self._shards]

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = asyncio.Queue(maxsize=self.capacity)
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


class BoundedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _BoundedLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
