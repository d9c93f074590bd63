"""The channel layer we run: Redis pub/sub, decoding each broadcast once per process.

RedisPubSubChannelLayer publishes a group message once and hands the same
bytes to every subscribed consumer of the process, but each consumer then
decodes its own copy. A price batch of 250 coins takes ~0.4 ms to decode, so
5,000 sockets would spend two seconds of CPU per batch on identical work.
Here the last decoded message is kept and reused while the very same bytes
object comes by again (identity, not equality: a different message can never
match). Consumers get a shallow copy and must not mutate nested values.
Measured in bench/fanout.py; the choice is recorded in docs/decisions.md.
Since prices.fanout made each process one member of the `prices` group, a
batch reaches a process once and this saves little for prices; it still
does for a group with several sockets in one process (a user's tabs).

It also gives the layer the `delete_channel` the pub/sub layer lacks.
"""

from __future__ import annotations

from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


class SharedDecodePubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_raw: bytes | None = None
        self._last_message: dict[str, Any] = {}

    def deserialize(self, message: bytes) -> dict[str, Any]:
        if message is not self._last_raw:
            # Keep a reference to the bytes: while held, their id cannot be reused.
            self._last_message = super().deserialize(message)
            self._last_raw = message
        return dict(self._last_message)

    async def delete_channel(self, channel: str) -> None:
        """Forget a channel of new_channel() whose receiver ended without being cancelled.

        The layer unsubscribes a channel only when a receive() on it is
        cancelled (Channels' consumers end so). prices.fanout's listener ends
        by a message instead, and left one subscription behind each time.
        """
        layer = self._get_layer()
        if layer.channels.pop(channel, None) is not None:
            await layer._get_shard(channel).unsubscribe(channel)
