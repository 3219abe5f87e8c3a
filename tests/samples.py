"""Sample uploads built in memory with Pillow (and one PNG written chunk by chunk), shared by the
core and server avatar tests."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image, TiffImagePlugin
from PIL.ExifTags import GPS, IFD, Base

BOMB_SIDE = 20_000


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture with some detail, so encoders cannot make it trivially small."""
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (across, down, across)).convert(mode)


def jpeg_with_gps(size: tuple[int, int] = (1200, 800), orientation: int = 1) -> bytes:
    """A JPEG whose EXIF names a camera, an orientation and a GPS position."""
    exif = Image.Exif()
    exif[Base.Make] = "AcmeCam"
    exif[Base.Model] = "Spy 3000"
    exif[Base.Orientation] = orientation
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (48, 51, 30))
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = tuple(TiffImagePlugin.IFDRational(v) for v in (2, 17, 40))
    return encoded(gradient(size), "JPEG", exif=exif.tobytes(), quality=90)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A 1-bit side x side PNG of zeros: tens of KB on disk, `side`**2 pixels once decoded.

    Written chunk by chunk so building it never holds the decoded image either."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
