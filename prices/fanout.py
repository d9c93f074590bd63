"""One member of the `prices` group per daphne process, handing each batch to its sockets.

Channels would make every socket a member of the group: the layer queues each
batch once per socket, and each socket's consumer wakes a task, waits on it
and dispatches it, about half of daphne's CPU per batch (bench/fanout.py).
Here each event loop (a daphne process has one) joins the group once,
receives each `prices.update` and `prices.feed` once, and hands it to every
socket's consumer in turn (`PriceConsumer.deliver`).

A socket is *held* while it reads and sends a snapshot (on connect, and on
each subscribe): events that come meanwhile wait in its own list and go out
after the snapshot, in order, as they did when they waited in the socket's
channel. A batch is therefore never sent before a snapshot older than it.

The group is heard by a `GroupListener` task while the loop serves sockets.
It is never cancelled: cancelling it inside the core Redis layer's
`receive()` left that receive unfinished, holding the layer's receive lock,
and the event loop could not close. It is told to stop with a message on its
own channel instead, and the last socket to leave waits for it to end (a few
seconds at most; not at all with Redis away, when the message cannot go).

A socket whose event cannot be sent is closed with 1011, as daphne closes a
consumer whose handler raised, and the browser reconnects.
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
# join again well before, woken by a REJOIN message should no batch come.
REJOIN_SECONDS = 3600.0
RETRY_SECONDS = 1.0
# A REJOIN that could not be sent (Redis away) is tried again this much later.
REJOIN_RETRY_SECONDS = 60.0
# What a listener's own channel is sent: to end it, and to wake it to join again.
STOP = {"type": "fanout.stop"}
REJOIN = {"type": "fanout.rejoin"}
# The group's events a socket is handed; anything else on the channel is ours.
GROUP_EVENTS = frozenset({"prices.update", "prices.feed"})
# How long the last socket waits for the listener to leave the group: one
# round trip to Redis.
STOP_WAIT_SECONDS = 5.0
# An internal error (RFC 6455): a socket its event could not be sent to.
CLOSE_INTERNAL_ERROR = 1011


class Recipient(Protocol):
    async def deliver(self, event: dict[str, Any]) -> None: ...

    async def close(self, code: int | None = None) -> None: ...


class GroupListener:
    """A task in the `prices` group on a channel of its own, until stop()."""

    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.stopping = False
        self.joined = asyncio.get_running_loop().create_future()
        self.rejoin_timer: asyncio.TimerHandle | None = None
        self._wake: asyncio.Future | None = None  # the REJOIN on its way
        self.task = asyncio.create_task(self._run())

    @property
    def failed(self) -> bool:
        """Whether it could not join the group (it retries, or a new one takes over)."""
        return self.joined.done() and not self.joined.cancelled() and bool(self.joined.exception())

    async def stop(self) -> None:
        """End the task (at its next receive, which this message wakes) and wait for it.

        Best effort and bounded: with Redis away the message cannot be sent,
        and the task ends at its next event or error instead, unwaited.
        """
        self.stopping = True
        if self.channel is not None and not await self._tell(STOP):
            return
        await asyncio.wait({self.task}, timeout=STOP_WAIT_SECONDS)

    async def _tell(self, message: dict[str, Any]) -> bool:
        """Send `message` to this listener's own channel; whether it went."""
        try:
            await self.layer.send(self.channel, message)
        except Exception:  # noqa: BLE001 - Redis away: the caller says what then
            logger.warning("Could not send %s to the price fan-out", message["type"], exc_info=True)
            return False
        return True

    def _wake_to_rejoin(self) -> None:
        self.rejoin_timer = None
        self._wake = asyncio.ensure_future(self._send_rejoin())

    async def _send_rejoin(self) -> None:
        if not await self._tell(REJOIN) and not (self.stopping or self.task.done()):
            # Unsent, no wake would ever come again, and a listener the group
            # forgot would hear nothing.
            self._schedule_wake(REJOIN_RETRY_SECONDS)

    def _schedule_wake(self, seconds: float) -> None:
        # One timer at a time: one left behind would outlive the listener.
        if self.rejoin_timer is not None:
            self.rejoin_timer.cancel()
        self.rejoin_timer = asyncio.get_running_loop().call_later(seconds, self._wake_to_rejoin)

    async def _run(self) -> None:
        joined_at = None
        try:
            self.channel = await self.layer.new_channel()
            while not self.stopping:
                if joined_at is None or time.monotonic() - joined_at >= REJOIN_SECONDS:
                    await self.layer.group_add(PRICES_GROUP, self.channel)
                    joined_at = time.monotonic()
                    self._schedule_wake(REJOIN_SECONDS)
                    if not self.joined.done():
                        self.joined.set_result(None)
                    continue  # stopped while joining: leave at once
                event = await self.layer.receive(self.channel)
                # A stopped listener hands nothing out; STOP and REJOIN only wake it.
                if not self.stopping and event.get("type") in GROUP_EVENTS:
                    await self.fanout.hand_out(event)
        except Exception as exc:
            # Redis away: the sockets miss what is published meanwhile, as
            # each did when each was a member; a new listener joins again.
            logger.exception("The price fan-out lost the channel layer; joining again")
            if not self.joined.done():
                # The sockets waiting for the group fail as they did when each
                # joined it itself. Marked retrieved: a restarted listener has
                # no socket waiting on it.
                self.joined.set_exception(exc)
                self.joined.exception()
            await asyncio.sleep(RETRY_SECONDS)
            self.fanout.restart(self)
        finally:
            if self.rejoin_timer is not None:
                self.rejoin_timer.cancel()
            if not self.joined.done():  # stopped before it joined
                self.joined.cancel()
            if self.channel is not None:
                await self._leave(joined=joined_at is not None)

    async def _leave(self, *, joined: bool) -> None:
        # Best effort: the core layer's group expires a member, and a
        # subscription ends with the connection.
        try:
            if joined:
                await self.layer.group_discard(PRICES_GROUP, self.channel)
            # The pub/sub layer drops a channel only when a receive() on it is
            # cancelled, which this task never is (common.channel_layers); the
            # core layer keeps nothing for a channel nobody receives on.
            delete_channel = getattr(self.layer, "delete_channel", None)
            if delete_channel is not None:
                await delete_channel(self.channel)
        except Exception:  # noqa: BLE001
            logger.debug("Could not leave the prices group", exc_info=True)


class Fanout:
    """The sockets of one event loop that hear the `prices` group."""

    def __init__(self) -> None:
        # A socket's list of held events, or None once it is live.
        self.sockets: dict[Recipient, list[dict[str, Any]] | None] = {}
        self.listener: GroupListener | None = None

    async def add(self, socket: Recipient) -> None:
        """Start handing the group's events to `socket`, held until release()."""
        self.sockets[socket] = []
        if self.listener is None or self.listener.failed:
            self.listener = GroupListener(self)
        # Not before the group is joined: an event published meanwhile would be lost.
        await asyncio.shield(self.listener.joined)

    def hold(self, socket: Recipient) -> None:
        """Keep the group's events for `socket` until release() (it reads a snapshot)."""
        if socket in self.sockets and self.sockets[socket] is None:
            self.sockets[socket] = []

    async def release(self, socket: Recipient) -> None:
        """Send `socket` what was held for it, in order, then hand it events as they come."""
        held = self.sockets.get(socket)
        while held:  # an error ends the socket's consumer, as any handler's does
            await socket.deliver(held.pop(0))
        if socket in self.sockets:
            self.sockets[socket] = None

    async def remove(self, socket: Recipient) -> None:
        """Stop handing events to `socket`; with the loop's last socket, leave the group."""
        self.sockets.pop(socket, None)
        listener = self.listener
        if not self.sockets and listener is not None:
            self.listener = None
            await listener.stop()

    def restart(self, failed: GroupListener) -> None:
        """A listener that lost the layer: another takes its place while sockets remain."""
        if self.listener is failed:
            self.listener = GroupListener(self) if self.sockets else None

    async def hand_out(self, event: dict[str, Any]) -> None:
        failed: dict[Recipient, Exception] = {}
        for socket in list(self.sockets):
            # Read at each step, not from a copy: a send that yields could let
            # a socket start a subscribe (hold) or leave meanwhile.
            if socket not in self.sockets:
                continue
            held = self.sockets[socket]
            if held is not None:
                held.append(event)
                continue
            try:
                await socket.deliver(event)
            except Exception as exc:  # noqa: BLE001 - one socket's error ends that socket only
                failed[socket] = exc
        if failed:
            await self._close_failed(event, failed)

    async def _close_failed(
        self, event: dict[str, Any], failed: dict[Recipient, Exception]
    ) -> None:
        """Close the sockets `event` could not be sent to, as daphne does a crashed consumer.

        Logged once for the batch: a fault common to every socket would
        otherwise log thousands of tracebacks and leave every page frozen.
        """
        logger.error(
            "Could not send a %s to %d sockets; closing them",
            event["type"],
            len(failed),
            exc_info=next(iter(failed.values())),
        )
        for socket in failed:
            self.sockets.pop(socket, None)
            try:
                await socket.close(code=CLOSE_INTERNAL_ERROR)
            except Exception:  # noqa: BLE001 - already gone
                logger.debug("Could not close a failed socket", exc_info=True)


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def for_this_loop() -> Fanout:
    """The running event loop's Fanout (daphne has one loop; tests start several)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout()
    return fanout
