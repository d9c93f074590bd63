"""daphne's WebSocket protocol with bounds: what one socket may send us, and hold.

Measured (bench/ws_flood.py, docs/websocket.md "Limits"): daphne reads each
socket as fast as frames arrive and puts every one on the application's
unbounded asyncio.Queue. The reactor parses ~19 frames a read per socket while
the consumer takes about one per event-loop turn, so ten clients sending 3.4
KiB pings for 10 s left 238,000 frames queued and one daphne 1.1 GiB larger.
A limit in the consumer comes too late: it sees a frame only after thousands
are queued behind it. So the limits sit here, where frames arrive:

- A token bucket per socket (WS_MESSAGE_BURST frames at once, refilled at
  WS_MESSAGE_RATE a second), charged by every frame as its header arrives:
  data, continuation, ping and pong alike (a close is not charged: it ends
  the socket). Counting whole messages was not enough: pings never make one
  (autobahn answers each with a pong, which a client that never reads leaves
  in our memory), nor do empty continuation frames of a message that never
  ends. Over it the socket is closed with 1008 and a reason, further frames
  are dropped unread, and nothing more is queued.
- A message is at most MAX_MESSAGE_FRAMES frames (else 1008) and
  MAX_MESSAGE_BYTES before it is handed on (daphne's default is 1 MiB); the
  routes refuse far smaller ones themselves.
- Outgoing: Twisted buffers whatever a socket is sent. Once that buffer is
  full (the transport pauses its producer, us) the socket is no longer read,
  so TCP holds back a client that does not read its answers, and it may fall a
  further WS_SEND_BUFFER_BYTES behind (our messages, pongs and closes alike);
  beyond that the connection is dropped.
- Close frames carry the application's code and reason. daphne passes the
  code of an ASGI `websocket.close` to autobahn's sendClose, which refuses
  every code but 1000 and 3000-4999 (so a 1009 became a crash and 1011) and
  drops the reason.
- A `websocket.send` that carries its frame ready made (prices.websocket_frames:
  a price batch, framed once for every socket of the process) is written as
  is, without encoding and framing the same text again for each socket.

cryptomonitor.asgi installs the class (`install()`) in the process that serves
it, whichever command started daphne.
"""

from __future__ import annotations

import fcntl
import logging
import sys
import termios
import time
from collections.abc import Callable

from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from prices.metrics import WEBSOCKET_FRAMES_REFUSED
from prices.websocket_frames import FRAME_KEY

logger = logging.getLogger(__name__)

# RFC 6455 close codes an endpoint may send.
CLOSE_POLICY_VIOLATION = 1008
# A close frame's payload is at most 125 bytes: the 2-byte code, then the reason.
MAX_CLOSE_REASON_BYTES = 123
# Far above any route's own frame limit (prices: 4 KiB), far below daphne's 1 MiB.
MAX_MESSAGE_BYTES = 64 * 1024
# Browsers send each message in one frame; a message in many frames costs a
# list entry each, even empty ones.
MAX_MESSAGE_FRAMES = 16
# A socket whose kernel send queue holds more than this is behind: its frames
# go through Twisted's buffer (and the limits above), not straight to the kernel.
WRITE_THROUGH_QUEUE_BYTES = 64 * 1024
# RFC 6455 opcodes.
OPCODE_CONTINUATION = 0x0
OPCODE_CLOSE = 0x8


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` a second; each frame takes one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@implementer(IPushProducer)
class SendBacklog:
    """How far a socket's writes are behind, past Twisted's own write buffer.

    Registered as the transport's producer: Twisted pauses it when its buffer
    holds more than its bufferSize (64 KiB) and resumes it once the buffer is
    empty again. `pause` and `resume` stop and restart reading the socket.
    """

    def __init__(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self.paused = False
        self.bytes = 0
        self.pause, self.resume = pause, resume

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's interface)
        self.paused = True
        self.pause()

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused, self.bytes = False, 0
        self.resume()

    def stopProducing(self) -> None:  # noqa: N802
        self.paused = False


class BoundedWebSocketProtocol(WebSocketProtocol):
    refusing = False
    message_frames = 0

    def connectionMade(self) -> None:  # noqa: N802 (Twisted's interface)
        super().connectionMade()
        # autobahn copied daphne's option values onto this protocol just now (0: none).
        self.maxMessagePayloadSize = min(
            self.maxMessagePayloadSize or MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES
        )
        self.maxFramePayloadSize = min(
            self.maxFramePayloadSize or MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES
        )
        self.bucket = TokenBucket(settings.WS_MESSAGE_RATE, settings.WS_MESSAGE_BURST)
        self.backlog = SendBacklog(pause=self.stop_reading, resume=self.resume_reading)
        # The HTTP channel that handed us the connection is still registered
        # as its producer; it is done with it.
        self.transport.unregisterProducer()
        self.transport.registerProducer(self.backlog, True)

    def onFrameBegin(self) -> None:  # noqa: N802 (autobahn's)
        frame = self.current_frame
        if not self.refusing and frame.opcode != OPCODE_CLOSE:
            if not self.bucket.take():
                self.refuse(
                    f"more than {settings.WS_MESSAGE_BURST} messages at once or "
                    f"{settings.WS_MESSAGE_RATE:g} a second",
                    limit="rate",
                )
            elif frame.opcode == OPCODE_CONTINUATION:
                self.message_frames += 1
                if self.message_frames > MAX_MESSAGE_FRAMES:
                    self.refuse(f"a message in more than {MAX_MESSAGE_FRAMES} frames", limit="size")
            elif frame.opcode < OPCODE_CLOSE:  # the first frame of a message
                self.message_frames = 1
        if self.refusing:
            # The rest of this read goes unparsed: tens of thousands of tiny
            # frames cost CPU and list entries for nothing.
            self.data = b""
        # autobahn keeps its own state even for a refused frame (onMessage drops it).
        super().onFrameBegin()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802,N803 (autobahn's)
        if self.refusing:
            return
        super().onMessage(payload, isBinary)

    def refuse(self, reason: str, limit: str) -> None:
        """Close with 1008, drop whatever else comes, and stop reading the socket.

        `limit` is the metric's reason label: "rate" or "size".
        """
        logger.info("WebSocket %s closed: %s", self.client_addr, reason)
        WEBSOCKET_FRAMES_REFUSED.labels(reason=limit).inc()
        self.refusing = True
        self.close_with(CLOSE_POLICY_VIOLATION, reason)
        # autobahn drops the connection if no close reply comes within its
        # close handshake timeout (1 s); the flood is not read meanwhile.
        self.stop_reading()

    def stop_reading(self) -> None:
        self.transport.pauseProducing()

    def resume_reading(self) -> None:
        if not self.refusing:
            self.transport.resumeProducing()

    def close_with(self, code: int, reason: str = "") -> None:
        if self.state != self.STATE_OPEN:
            return
        reason_bytes = reason.encode()[:MAX_CLOSE_REASON_BYTES]
        # A cut may split a character: keep the complete ones.
        reason_bytes = reason_bytes.decode(errors="ignore").encode()
        self.sendCloseFrame(code=code, reasonUtf8=reason_bytes or None)

    def handle_reply(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "websocket.send":
            frame = message.get(FRAME_KEY)
            if frame is not None and self.write_frame(frame):
                return
        elif kind == "websocket.close" and self.state == self.STATE_OPEN:
            self.close_with(message.get("code") or 1000, message.get("reason") or "")
            return
        super().handle_reply(message)

    def write_frame(self, frame: bytes) -> bool:
        """Write a ready-made text frame as sendMessage would have; False: not now.

        Only on an open socket that compresses nothing and is between messages
        (so the frame cannot land inside another), and within the message size
        autobahn enforces; otherwise the message's text goes the usual way.
        """
        if (
            self.state != self.STATE_OPEN
            or self._perMessageCompress is not None
            or self.send_state != self.SEND_STATE_GROUND
            or self.maskServerFrames
            or 0 < self.maxMessagePayloadSize < len(frame) - 2
        ):
            return False
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingOctetsAppLevel += len(frame)
        stats.outgoingOctetsWebSocketLevel += len(frame)
        self.sendData(frame)
        return True

    def serverSend(self, content, binary: bool = False) -> None:  # noqa: N802 (daphne's)
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            # Closing: the consumer has not heard yet (autobahn would raise).
            return
        super().serverSend(content, binary)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:  # noqa: N802 (autobahn's)
        # Every frame goes out here: the application's, and autobahn's own pongs and closes.
        if self.backlog.paused:
            self.backlog.bytes += len(data)
            if self.backlog.bytes > settings.WS_SEND_BUFFER_BYTES:
                if self.state != self.STATE_CLOSED:
                    logger.info(
                        "WebSocket %s dropped: over %d bytes unread",
                        self.client_addr,
                        settings.WS_SEND_BUFFER_BYTES,
                    )
                    self.dropConnection(abort=True)
                return
        if not (sync or chopsize or self.send_queue) and self.write_through(data):
            return
        super().sendData(data, sync, chopsize)

    def write_through(self, data: bytes) -> bool:
        """Send `data` at once when nothing is waiting to go out before it.

        Twisted's transport.write only buffers: it registers the socket for
        writing (an epoll_ctl), sends on the reactor's next turn, then
        unregisters it (another). For one price batch to thousands of sockets
        that bookkeeping cost more than the send itself (bench/fanout.py). So
        the first send is tried here; what the kernel does not take is
        buffered the usual way, and an error is left to that way too (it
        closes the connection as Twisted does). False: not tried.

        Only for a socket that keeps up: one whose kernel queue already holds
        WRITE_THROUGH_QUEUE_BYTES unsent goes the usual way, so a client that
        stops reading fills Twisted's buffer and is dropped past
        WS_SEND_BUFFER_BYTES as before, instead of parking megabytes in the
        kernel (whose send buffer grows to tcp_wmem's 4 MiB).
        """
        transport = self.transport
        if (
            getattr(transport, "TLS", True)  # a plain TCP transport only
            or not transport.connected
            or transport.disconnecting
            or transport._writeDisconnected
            or transport._tempDataLen
            or len(transport.dataBuffer) > transport.offset
        ):
            return False
        try:
            fcntl.ioctl(transport.socket.fileno(), termios.TIOCOUTQ, _QUEUED)
            if int.from_bytes(_QUEUED, sys.byteorder) + len(data) > WRITE_THROUGH_QUEUE_BYTES:
                return False
            sent = transport.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False
        if sent < len(data):
            transport.write(data[sent:])
        return True


# TIOCOUTQ's answer, reused: the reactor's thread is the only one writing.
_QUEUED = bytearray(4)


def install() -> None:
    """Make this process's daphne serve every WebSocket with BoundedWebSocketProtocol.

    daphne builds its WebSocketFactory when the server starts, after it has
    imported the application, and the factory builds `protocol` (Twisted's
    way to choose a factory's protocol class).
    """
    WebSocketFactory.protocol = BoundedWebSocketProtocol
