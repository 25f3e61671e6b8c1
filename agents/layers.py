"""A Redis pub/sub channel layer with a bound on each consumer's queue.

``RedisPubSubChannelLayer`` relays with lower latency and higher throughput than the core
Redis layer (docs/PERFORMANCE.md), but its per-channel queues are unbounded: one socket
that stops reading would grow without limit. Here each channel's queue holds at most
``capacity`` messages. On overflow the queue is emptied and replaced by one
``layer.overflow`` message; the consumer then closes the socket (code 4008) and the
client reconnects and resynchronises from its last sequence number. Nothing is lost,
because every message is persisted before it is published.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

OVERFLOW_MESSAGE = {"type": "layer.overflow"}


class _BoundedShard(RedisSingleShardConnection):
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
