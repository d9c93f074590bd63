"""One member of the `prices` group per daphne process, handing each batch to its sockets.

Channels would make every socket a member of the group: the layer queues each
batch once per socket, and each socket's consumer wakes a task, waits on it
and dispatches it, about a quarter of daphne's CPU per batch
(bench/fanout.py). Here each event loop (a daphne process has one) joins the
group once, receives each `prices.update` and `prices.feed` once, and hands
it to every socket's consumer in turn (`PriceConsumer.deliver`).

A socket is *held* while it reads and sends a snapshot (on connect, and on
each subscribe): events that come meanwhile wait in its own list and go out
after the snapshot, in order, as they did when they waited in the socket's
channel. A batch is therefore never sent before a snapshot older than it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any, Protocol

from channels.layers import get_channel_layer

from prices.live import PRICES_GROUP

logger = logging.getLogger(__name__)

# The core Redis layer forgets a group member after a day (group_expiry):
# join again well before.
REJOIN_SECONDS = 3600.0
RETRY_SECONDS = 1.0


class Recipient(Protocol):
    async def deliver(self, event: dict[str, Any]) -> None: ...


class Fanout:
    """The sockets of one event loop that hear the `prices` group."""

    def __init__(self) -> None:
        # A socket's list of held events, or None once it is live.
        self.sockets: dict[Recipient, list[dict[str, Any]] | None] = {}
        self._task: asyncio.Task | None = None
        self._joined: asyncio.Future | None = None

    async def add(self, socket: Recipient) -> None:
        """Start handing the group's events to `socket`, held until release()."""
        self.sockets[socket] = []
        if self._task is None or self._task.done():
            self._joined = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(self._joined))
        # Not before the group is joined: an event published meanwhile would be lost.
        await asyncio.shield(self._joined)

    def hold(self, socket: Recipient) -> None:
        """Keep the group's events for `socket` until release() (it reads a snapshot)."""
        if self.sockets.get(socket, []) is None:
            self.sockets[socket] = []

    async def release(self, socket: Recipient) -> None:
        """Send `socket` what was held for it, in order, then hand it events as they come."""
        held = self.sockets.get(socket)
        while held:
            try:
                await socket.deliver(held.pop(0))
            except Exception:
                logger.exception("Could not send a held price event to a socket")
        if socket in self.sockets:
            self.sockets[socket] = None

    def remove(self, socket: Recipient) -> None:
        self.sockets.pop(socket, None)
        if not self.sockets and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self, joined: asyncio.Future) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        joined_at = None
        try:
            while True:
                try:
                    if joined_at is None or time.monotonic() - joined_at > REJOIN_SECONDS:
                        await layer.group_add(PRICES_GROUP, channel)
                        joined_at = time.monotonic()
                        if not joined.done():
                            joined.set_result(None)
                    event = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Redis away: the sockets miss what is published meanwhile,
                    # as each of them did when each was a member.
                    logger.exception("The price fan-out lost the channel layer; joining again")
                    joined_at = None
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                await self._hand_out(event)
        finally:
            if not joined.done():
                joined.cancel()
            try:
                await asyncio.shield(layer.group_discard(PRICES_GROUP, channel))
            except Exception:  # noqa: BLE001 - leaving is best effort; the group expires
                logger.debug("Could not leave the prices group", exc_info=True)

    async def _hand_out(self, event: dict[str, Any]) -> None:
        for socket, held in list(self.sockets.items()):
            if held is not None:
                held.append(event)
                continue
            try:
                await socket.deliver(event)
            except Exception:
                logger.exception("Could not send a price event to a socket")


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def for_this_loop() -> Fanout:
    """The running event loop's Fanout (daphne has one loop; tests start several)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout()
    return fanout
