"""Write static/img/icon-192.png and icon-512.png: the installed app's icons.

The favicon's picture (static/img/favicon.svg), drawn by make_favicon.py's
own renderer at the sizes a web app manifest asks for. Run it again after
changing the SVG: `python scripts/make_app_icons.py`.
"""

from __future__ import annotations

from make_favicon import STATIC, png

SIZES = (192, 512)


def main() -> None:
    for size in SIZES:
        path = STATIC / f"icon-{size}.png"
        path.write_bytes(png(size))
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
