"""Who opens a /ws/ socket: a browser's session, or an API token (docs/security.md).

The Origin check stops cross-site WebSocket hijacking: a page from another
site opening our socket in its visitor's browser, which sends our session
cookie by itself. Every browser sends Origin, so:

- a foreign Origin is refused at the handshake (HTTP 403), whatever else the
  handshake carries;
- our own Origin: the session cookie authenticates, as before;
- no Origin (a script, never a browser): the cookie is ignored, so nothing
  ambient authenticates the socket; only a token the client itself presents.

A token comes in the handshake's `Authorization: Token <key>` (or `Bearer
<key>`, the API's schemes: accounts.authentication.KEYWORDS), which then
authenticates instead of the cookie, or later in an `auth` message
(prices.consumers). Never in the URL: URLs end up in access logs and
proxies' logs, so a `token` or `access_token` query parameter closes the
socket with CLOSE_INVALID_TOKEN. Validating a key is the consumer's (it
joins the token's group before it asks, so a revocation cannot slip
between); prices may not import accounts, so the scope carries
`api_tokens`, this module's TokenAuthority.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.contrib.auth.models import AnonymousUser

from accounts.authentication import KEYWORDS
from accounts.models import ApiToken

# Private use (4000-4999), as HTTP's 403: the token in the header or the auth
# message is wrong, revoked, of an inactive user or malformed, or came in the URL.
CLOSE_INVALID_TOKEN = 4003
URL_TOKEN_PARAMETERS = frozenset({"token", "access_token"})
IN_URL_REFUSED = "send the token in the Authorization header or an auth message, not the URL"
MALFORMED_HEADER = "invalid Authorization header: expected 'Token <key>' or 'Bearer <key>'"
# The API's schemes, lower-cased: Token and Bearer.
SCHEMES = frozenset(keyword.lower().encode() for keyword in KEYWORDS)


class TokenAuthority:
    """What the consumer may ask about API tokens, from the event loop."""

    @database_sync_to_async
    def authenticate(self, key: str) -> ApiToken | None:
        """The valid token with this key (its use recorded), or None."""
        token = ApiToken.authenticate(key)
        if token is not None:
            token.record_use()
        return token

    @database_sync_to_async
    def is_active(self, token_id: int) -> bool:
        return ApiToken.objects.active().filter(pk=token_id).exists()


api_tokens = TokenAuthority()


def header(scope: dict[str, Any], name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers", []) if key.lower() == name]


def token_key(values: list[bytes]) -> str | None:
    """The key of a Token or Bearer Authorization header; "" if malformed; None if none.

    As DRF's TokenAuthentication: another scheme (a browser's Basic
    credentials for a protected staging site) is not ours and is ignored.
    """
    ours = [value.split() for value in values]
    ours = [parts for parts in ours if parts and parts[0].lower() in SCHEMES]
    if not ours:
        return None
    if len(ours) > 1 or len(ours[0]) != 2:
        return ""
    try:
        return ours[0][1].decode()
    except UnicodeDecodeError:
        return ""


async def close_at_once(scope, receive, send, *, code: int, reason: str) -> None:
    """Accept, then close with a code and reason: a script learns why (a 403 says nothing)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


class SocketAuthentication:
    """ASGI middleware in front of the WebSocket routes (cryptomonitor.asgi)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)
        # Reads ALLOWED_HOSTS (as Channels' own validator in front of every route did).
        self.origins = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send) -> None:
        origins = header(scope, b"origin")
        if not all(self.origin_allowed(origin) for origin in origins):  # browsers send one
            return await WebsocketDenier()(scope, receive, send)
        query = scope.get("query_string", b"").decode("latin-1")
        if any(name.lower() in URL_TOKEN_PARAMETERS for name, _ in parse_qsl(query, True)):
            return await close_at_once(
                scope, receive, send, code=CLOSE_INVALID_TOKEN, reason=IN_URL_REFUSED
            )
        key = token_key(header(scope, b"authorization"))
        if key == "":
            return await close_at_once(
                scope, receive, send, code=CLOSE_INVALID_TOKEN, reason=MALFORMED_HEADER
            )
        scope = {**scope, "api_tokens": api_tokens, "api_token_key": key}
        if key is not None or not origins:
            # A token, or no Origin: never the session cookie. The consumer
            # authenticates the key; until then the socket is anonymous.
            return await self.inner({**scope, "user": AnonymousUser()}, receive, send)
        return await self.with_session(scope, receive, send)

    def origin_allowed(self, value: bytes) -> bool:
        try:
            return self.origins.valid_origin(urlparse(value.decode("latin-1")))
        except ValueError:  # urlparse: e.g. an invalid IPv6 host
            return False
