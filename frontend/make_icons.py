"""Draw the app icons (four pieces of a picture on navy) as PNG with the standard library.

Run `python frontend/make_icons.py` after changing the design; the SVG is the same picture.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

NAVY = (35, 57, 91)
PIECES = [(233, 196, 106), (142, 202, 230), (168, 218, 181), (244, 162, 140)]
OUT = Path(__file__).resolve().parent / "static" / "icons"


def pixel(x: float, y: float) -> tuple[int, int, int]:
    """The colour at (x, y) in a unit square: four rounded tiles with a gap between."""
    for index, (left, top) in enumerate([(0.18, 0.18), (0.52, 0.18), (0.18, 0.52), (0.52, 0.52)]):
        if left <= x <= left + 0.30 and top <= y <= top + 0.30:
            return PIECES[index]
    return NAVY


def png(size: int) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel((x + 0.5) / size, (y + 0.5) / size)) for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def svg() -> str:
    tiles = "".join(
        f'<rect x="{x}" y="{y}" width="30" height="30" rx="4" fill="rgb{colour}"/>'
        for (x, y), colour in zip([(18, 18), (52, 18), (18, 52), (52, 52)], PIECES, strict=True)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" rx="18" fill="rgb{NAVY}"/>{tiles}</svg>\n'
    )


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(png(size))
    (OUT / "icon.svg").write_text(svg())
