"""The live price WebSocket, /ws/prices/ (message schema: docs/websocket.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from common.live_groups import token_group, user_group
from prices import fanout, live, metrics

# RFC 6455: "message too big to process".
CLOSE_TOO_BIG = 1009
# Private use (4000-4999): the user signed out, or their password changed, or
# the socket's API token was revoked. The browser reconnects as whoever its
# session now says (prices.signals).
CLOSE_SIGNED_OUT = 4001
# Private use: the API token (header or auth message) does not authenticate
# (cryptomonitor.websocket_auth.CLOSE_INVALID_TOKEN, for a token in the URL).
CLOSE_INVALID_TOKEN = 4003
REFUSED_KEY = "invalid or revoked token"
# Keys are 43 characters (accounts.models.ApiToken.issue); anything far longer
# is no key, and is not hashed and looked up.
MAX_TOKEN_LENGTH = 200


class PriceConsumer(AsyncWebsocketConsumer):
    """Pushes price batches to every browser and alert popups to their owner."""

    # The prices group is heard once per process (prices.fanout), not per socket.
    groups: list[str] = []
    signed_out = False
    fanout: fanout.Fanout | None = None
    counted = False  # in cryptomonitor_websocket_connections
    # The API token that authenticated this socket (header or auth message).
    token_id: int | None = None

    async def connect(self) -> None:
        # None means every tracked coin; a subscribe message narrows it.
        self.coin_ids: frozenset[str] | None = None
        user = self.scope.get("user")
        key = self.scope.get("api_token_key")
        if key is not None:  # Authorization header (cryptomonitor.websocket_auth)
            if not await self.sign_in_with_token(key):
                await self.accept()
                await self.close(code=CLOSE_INVALID_TOKEN, reason=REFUSED_KEY)
                return
        elif user is not None and user.is_authenticated:
            await self.join(user_group(user.pk))
        # Batches from here on wait until the snapshot has gone out.
        self.fanout = fanout.for_this_loop()
        await self.fanout.add(self)
        await self.accept()
        metrics.WEBSOCKET_CONNECTIONS.inc()
        self.counted = True
        snapshot = await database_sync_to_async(live.process_texts.snapshot_text)()
        await self.send(text_data=snapshot)
        metrics.SENT_SNAPSHOT.inc()
        await self.fanout.release(self)

    async def __call__(self, scope, receive, send) -> None:
        # However the socket's consumer ends (a close, an error in a handler,
        # Redis failing while it leaves its groups, daphne cancelling it), it
        # leaves the gauge: a live gauge only falls when someone lowers it.
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.counted:
                self.counted = False
                metrics.WEBSOCKET_CONNECTIONS.dec()
            if self.fanout is not None:
                # The loop's last socket waits for the fan-out to leave the group.
                await asyncio.shield(self.fanout.remove(self))

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections (a hop to a thread)
        # before every handler. Ours reach the database only through
        # database_sync_to_async, which does that itself. (Skipping the hop
        # halved a price batch's CPU per socket when batches came this way;
        # now they come through prices.fanout, and user events and the
        # client's frames do.)
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            await self.send_error("binary frames are not accepted; send JSON text")
        elif len(text) > live.MAX_CLIENT_FRAME_BYTES // 4 and (
            len(text.encode()) > live.MAX_CLIENT_FRAME_BYTES
        ):
            metrics.WEBSOCKET_FRAMES_REFUSED.labels(reason="size").inc()
            await self.send_error(f"message larger than {live.MAX_CLIENT_FRAME_BYTES} bytes")
            await self.close(code=CLOSE_TOO_BIG)
        else:
            await self.receive_text(text)

    async def receive_text(self, text: str) -> None:
        try:
            content = json.loads(text)
        except ValueError:
            await self.send_error("not valid JSON")
            return
        except RecursionError:
            # Under 4 KiB but nested ~1,000 deep (`[[[[...`): Python's parser gives up.
            await self.send_error("JSON nested too deeply")
            return
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "ping":
                await self.send_message({"type": "pong"})
            elif kind == "subscribe":
                await self.subscribe(live.parse_subscription(content.get("coins")))
            elif kind == "auth":
                await self.authenticate(content.get("token"))
            else:
                raise live.BadMessage(
                    "expected a JSON object with type 'subscribe', 'ping' or 'auth'"
                    if kind is None
                    else f"unknown message type: {str(kind)[:50]!r}"
                )
        except live.BadMessage as exc:
            await self.send_error(str(exc))

    async def authenticate(self, key: Any) -> None:
        """An auth message: a socket without a user becomes its token's user's."""
        user = self.scope.get("user")
        if (user is not None and user.is_authenticated) or self.signed_out:
            raise live.BadMessage("already authenticated")
        if not await self.sign_in_with_token(key):
            await self.close(code=CLOSE_INVALID_TOKEN, reason=REFUSED_KEY)
            return
        await self.send_message({"type": "authenticated"})

    async def sign_in_with_token(self, key: Any) -> bool:
        """Join the groups of the token with this key, if it is valid; whether it was.

        The token's group is joined before the token is checked again: a
        revocation committed before that check fails it, one after it
        reaches the group (prices.signals), so none slips between.
        """
        tokens = self.scope.get("api_tokens")
        if tokens is None or not isinstance(key, str) or not 0 < len(key) <= MAX_TOKEN_LENGTH:
            return False
        token = await tokens.authenticate(key)
        if token is None:
            return False
        await self.join(token_group(token.pk))
        if not await tokens.is_active(token.pk):
            return False
        await self.join(user_group(token.user_id))
        self.scope["user"] = token.user
        self.token_id = token.pk
        return True

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups = [*self.groups, group]

    async def subscribe(self, coin_ids: list[str]) -> None:
        if self.fanout is not None:  # batches wait until the new snapshot has gone out
            self.fanout.hold(self)
        # From the process's memory: no query per subscribe (ProcessTexts).
        known, snapshot = await database_sync_to_async(live.process_texts.subscription)(coin_ids)
        self.coin_ids = frozenset(coin_ids)
        known_ids = set(known)
        await self.send_message(
            {
                "type": "subscribed",
                "coins": known,
                "unknown": [coin_id for coin_id in coin_ids if coin_id not in known_ids],
            }
        )
        await self.send(text_data=snapshot)
        metrics.SENT_SNAPSHOT.inc()
        if self.fanout is not None:
            await self.fanout.release(self)

    async def deliver(self, event: dict[str, Any]) -> None:
        """An event of the prices group, from this process's fanout."""
        if event["type"] == "prices.update":
            await self.prices_update(event)
        elif event["type"] == "prices.feed":
            await self.prices_feed(event)

    async def prices_update(self, event: dict[str, Any]) -> None:
        if self.coin_ids is None:
            # The text and its frame, made once for every socket of the process.
            await self.base_send(live.process_texts.batch_send(event))
            metrics.SENT_PRICES.inc()
            return
        message = live.process_texts.narrowed_message(event, self.coin_ids)
        if message is not None:
            await self.send_message(message)
            metrics.SENT_PRICES.inc()

    async def prices_feed(self, event: dict[str, Any]) -> None:
        # A failed poll: no batch, only the feed's state (rare, tiny).
        await self.send_message({"type": "feed", "feed": event["feed"]})
        metrics.SENT_FEED.inc()

    async def user_alert(self, event: dict[str, Any]) -> None:
        if not self.signed_out:  # one already on its way when the user left
            await self.send_message({**event["alert"], "type": "alert"})
            metrics.SENT_ALERT.inc()

    async def user_signed_out(self, event: dict[str, Any]) -> None:
        if event.get("sessions_only") and self.token_id is not None:
            return  # a logout: this socket's token is still valid
        # Leave the user's group at once: nothing of theirs reaches this
        # socket while its close handshake runs.
        group = user_group(self.scope["user"].pk)
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups = [name for name in self.groups if name != group]
        self.signed_out = True
        await self.close(code=CLOSE_SIGNED_OUT, reason=event.get("reason") or "signed out")

    async def token_revoked(self, event: dict[str, Any]) -> None:
        # The token's own sockets only: the user's others stay open.
        if self.token_id is None:  # its sign-in failed, the socket is closing
            return
        await self.user_signed_out({"reason": event.get("reason") or "token revoked"})

    async def send_message(self, message: dict[str, Any]) -> None:
        await self.send(text_data=live.encode(message))

    async def send_error(self, text: str) -> None:
        await self.send_message({"type": "error", "message": text})
        metrics.SENT_ERROR.inc()
