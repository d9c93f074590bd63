"""A text message framed once, for every socket of a daphne process to write as is.

A `prices` batch goes to thousands of sockets as the same text. Left to daphne
and autobahn, each socket encodes that text to UTF-8 again and builds the same
WebSocket frame around it (a header, then header and payload copied into one
bytes object). The frame a server sends is the same for every socket: RFC 6455
masks only what a client sends, and we negotiate no compression. So the frame
is built once per batch (`text_frame`) and handed to the socket's protocol
with the ASGI message under FRAME_KEY; cryptomonitor.websocket_protocol writes
it as is when it can, and otherwise sends the message's `text` the usual way.
Any other ASGI server ignores the key and sends the `text`.
"""

from __future__ import annotations

import struct

# An extra key of a `websocket.send` message: the frame of its `text`.
FRAME_KEY = "cryptomonitor.frame"
_FIN_TEXT = 0x81  # FIN set, opcode 1 (text)


def text_frame(text: str) -> bytes:
    """The whole unmasked, unfragmented server frame that carries `text` (RFC 6455 5.2)."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", _FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, length)
    return header + payload


def send_message(text: str) -> dict:
    """The ASGI `websocket.send` message for `text`, carrying its frame too."""
    return {"type": "websocket.send", "text": text, FRAME_KEY: text_frame(text)}
