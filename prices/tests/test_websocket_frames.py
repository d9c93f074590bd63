"""A batch's frame, built once per process, as a real WebSocket client parses it."""

from __future__ import annotations

import pytest
from websockets.frames import Opcode
from websockets.protocol import Protocol, Side, State

from prices.websocket_frames import FRAME_KEY, send_message, text_frame


def parsed(data: bytes) -> list:
    """The frames the `websockets` client reads from these bytes."""
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    client.receive_data(data)
    return client.events_received()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * 125,  # the largest payload with its length in the first byte
        "x" * 126,  # the smallest with a 2-byte length
        '{"type":"prices","coins":["é","₿"]}' * 600,  # UTF-8, beyond 16 bits of length
        "y" * 65535,
        "z" * 65536,  # the smallest with an 8-byte length
    ],
)
def test_a_text_frame_reads_back_as_one_final_text_message_of_that_text(text):
    (frame,) = parsed(text_frame(text))
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode() == text


def test_the_send_message_carries_the_text_and_its_frame():
    message = send_message('{"type":"prices"}')
    assert message["type"] == "websocket.send"
    assert message["text"] == '{"type":"prices"}'
    assert message[FRAME_KEY] == text_frame('{"type":"prices"}')
