"""Write static/img/favicon.ico: static/img/favicon.svg drawn in pixels, made here.

Browsers ask for /favicon.ico wherever a page names no icon (the admin, error
pages, JSON answers); this is the file the site answers with. The shapes are
the SVG's: a rounded blue square and a white rising line with round ends,
drawn at 16, 32 and 48 pixels with 8x8 samples per pixel, each size a PNG
inside the ICO. Run it again after changing the SVG:
`python scripts/make_favicon.py`.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static" / "img"
TARGET = STATIC / "favicon.ico"
SIZES = (16, 32, 48)
SAMPLES = 8  # per pixel and axis
# The SVG's geometry, in its 32x32 viewBox.
CORNER_RADIUS = 6.0
LINE = ((5.0, 23.0), (12.0, 15.0), (17.0, 20.0), (27.0, 9.0))
LINE_HALF_WIDTH = 1.5
BLUE = (0x1D, 0x5F, 0xD1)
WHITE = (0xFF, 0xFF, 0xFF)


def in_rounded_square(x: float, y: float) -> bool:
    r = CORNER_RADIUS
    cx = min(max(x, r), 32 - r)
    cy = min(max(y, r), 32 - r)
    return 0 <= x <= 32 and 0 <= y <= 32 and math.hypot(x - cx, y - cy) <= r


def near_line(x: float, y: float) -> bool:
    for (ax, ay), (bx, by) in zip(LINE, LINE[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= LINE_HALF_WIDTH:
            return True
    return False


def pixel(px: int, py: int, size: int) -> bytes:
    scale = 32 / size
    square = line = 0
    for i in range(SAMPLES):
        for j in range(SAMPLES):
            x = (px + (i + 0.5) / SAMPLES) * scale
            y = (py + (j + 0.5) / SAMPLES) * scale
            if in_rounded_square(x, y):
                square += 1
                line += near_line(x, y)
    if not square:
        return bytes(4)
    white = line / square
    rgb = (round(b + (w - b) * white) for b, w in zip(BLUE, WHITE, strict=True))
    return bytes((*rgb, round(255 * square / SAMPLES**2)))


def png(size: int) -> bytes:
    rows = b"".join(
        b"\0" + b"".join(pixel(px, py, size) for px in range(size)) for py in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def ico(images: list[tuple[int, bytes]]) -> bytes:
    offset = 6 + 16 * len(images)
    directory = b""
    for size, data in images:
        side = size % 256  # 0 means 256
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return struct.pack("<HHH", 0, 1, len(images)) + directory + b"".join(d for _, d in images)


def main() -> None:
    TARGET.write_bytes(ico([(size, png(size)) for size in SIZES]))


if __name__ == "__main__":
    main()
