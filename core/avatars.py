"""Turning uploaded bytes into a safe avatar: identify what the bytes really are (never the file
name or the declared type), refuse decompression bombs before any pixel is decoded, apply the EXIF
orientation, shrink to at most 512x512 and re-encode from bare pixels, so no metadata (EXIF, GPS,
ICC profile, text chunks, comments) can survive.

Output format: PNG when the picture has real transparency, otherwise JPEG (quality 85). Both are
understood by every client; WebP would be smaller but is not worth the compatibility question for
images of at most 512x512. Animated GIF and WebP keep their first frame.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core import errors

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
ACCEPTED_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_SIDE = 512
# 25 megapixels covers ordinary phone photos (12-24 MP); anything larger is refused from the
# header alone, before decoding, so a small file cannot make us allocate gigabytes.
MAX_PIXELS = 25_000_000
JPEG_QUALITY = 85

_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class EncodedImage:
    """A re-encoded avatar, ready to store and serve as is."""

    data: bytes
    content_type: str
    width: int
    height: int
    etag: str  # a strong ETag (quoted) from the SHA-256 of `data`


def encode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> EncodedImage:
    """Re-encode an uploaded image, or raise InvalidImage. CPU work: run it off the event loop."""
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise errors.InvalidImage(
                    f"The image is {width}x{height} pixels; at most {max_pixels} pixels "
                    "are accepted."
                )
            if image.format == "JPEG":
                # Decode at a reduced scale (1/2 .. 1/8) when the photo is much larger than needed.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            pixels = _upright_pixels(image)
    except Image.DecompressionBombError as exc:
        raise errors.InvalidImage(
            f"The image has too many pixels; at most {max_pixels} are accepted."
        ) from exc
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
    ) as exc:
        # Pillow reports broken and hostile input through this mix of exception types.
        raise errors.InvalidImage() from exc
    pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return _encode_bare(pixels)


def _upright_pixels(image: Image.Image) -> Image.Image:
    """The first frame, turned by its EXIF orientation, in sRGB, as RGB or RGBA."""
    image.seek(0)
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    has_alpha = any(
        im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
        for im in (image, upright)
    )
    converted = _eight_bit(upright).convert("RGBA" if has_alpha else "RGB")
    if icc:
        converted = _to_srgb(converted, icc)
    if has_alpha and converted.getextrema()[3][0] == 255:
        converted = converted.convert("RGB")  # an alpha channel that is opaque everywhere
    return converted


_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit grey (a 16-bit greyscale PNG) as 8-bit grey. `convert` clips such values to 255
    instead of scaling them, so every grey past 1/256 of white came out white."""
    if image.mode not in _SIXTEEN_BIT and not (image.mode == "I" and image.getextrema()[1] > 255):
        return image
    return image.convert("I").point(lambda value: value / 256).convert("L")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert colours from an embedded profile to sRGB, since the profile itself is dropped.
    A profile littlecms cannot use leaves the pixels as they are."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted or image


def _encode_bare(image: Image.Image) -> EncodedImage:
    """Copy the bare pixels into a new image (whose `info` is empty) and save that: encoders copy
    some metadata from `info` by default (PNG copies the ICC profile)."""
    bare = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if bare.mode == "RGBA":
        bare.save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        bare.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        content_type = "image/jpeg"
    data = out.getvalue()
    return EncodedImage(
        data=data,
        content_type=content_type,
        width=bare.width,
        height=bare.height,
        etag=f'"{hashlib.sha256(data).hexdigest()}"',
    )
