"""Re-encoding uploads: what the bytes are decides, bombs are refused from the header, and no
metadata survives."""

from __future__ import annotations

import hashlib
import io
import resource

import pytest
from PIL import Image, ImageCms

from core import avatars, errors
from tests import samples


def test_jpeg_with_gps_comes_out_bare_and_small() -> None:
    result = avatars.encode(samples.jpeg_with_gps((1200, 800)))
    image = samples.opened(result.data)
    assert result.content_type == "image/jpeg" and image.format == "JPEG"
    assert (image.width, image.height) == (result.width, result.height) == (512, 341)
    assert len(image.getexif()) == 0
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in result.data and b"AcmeCam" not in result.data
    assert result.etag == f'"{hashlib.sha256(result.data).hexdigest()}"'


def test_exif_orientation_is_applied_before_it_is_stripped() -> None:
    # Orientation 6: the camera was turned; the upright picture is taller than wide.
    result = avatars.encode(samples.jpeg_with_gps((800, 400), orientation=6))
    assert (result.width, result.height) == (256, 512)


def test_transparency_keeps_png_opaque_becomes_jpeg() -> None:
    clear = Image.new("RGBA", (600, 600), (255, 0, 0, 0))
    assert avatars.encode(samples.encoded(clear, "PNG")).content_type == "image/png"
    opaque = Image.new("RGBA", (60, 60), (255, 0, 0, 255))
    assert avatars.encode(samples.encoded(opaque, "PNG")).content_type == "image/jpeg"


def test_png_text_chunks_and_icc_profile_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGBA", (100, 100), (0, 0, 255, 128))
    result = avatars.encode(samples.encoded(image, "PNG", pnginfo=info, icc_profile=icc))
    out = samples.opened(result.data)
    assert "Comment" not in out.info and "icc_profile" not in out.info
    assert b"secret" not in result.data


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "PNG", "JPEG"])
def test_each_accepted_format_is_read(fmt: str) -> None:
    image = samples.gradient((700, 300), "P" if fmt == "GIF" else "RGB")
    result = avatars.encode(samples.encoded(image, fmt))
    assert (result.width, result.height) == (512, 219)


def test_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue", "green")]
    data = samples.encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = samples.opened(avatars.encode(data).data).convert("RGB")
    red, green, blue = out.getpixel((20, 20))
    assert red > 200 and green < 50 and blue < 50


@pytest.mark.parametrize(
    "data",
    [
        b"this is plain text, not a picture\n",
        b"",
        samples.encoded(Image.new("RGB", (10, 10)), "BMP"),
        samples.encoded(Image.new("RGB", (10, 10)), "TIFF"),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        samples.encoded(samples.gradient((300, 300)), "JPEG")[:1500],  # truncated
    ],
    ids=["text", "empty", "bmp", "tiff", "svg", "truncated"],
)
def test_anything_else_is_invalid_image(data: bytes) -> None:
    with pytest.raises(errors.InvalidImage):
        avatars.encode(data)


def test_png_bomb_is_refused_without_decoding_it() -> None:
    bomb = samples.png_bomb()
    assert len(bomb) < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(errors.InvalidImage):
        avatars.encode(bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 40_000  # 400M pixels would be 50 MB even at 1 bit per pixel


def test_image_over_our_own_pixel_limit_is_refused_from_its_header() -> None:
    # 6000x5000 is under Pillow's own bomb threshold but over ours.
    data = samples.encoded(Image.new("1", (6000, 5000)), "PNG")
    with pytest.raises(errors.InvalidImage) as caught:
        avatars.encode(data)
    assert "6000x5000" in caught.value.detail


def test_small_image_is_not_enlarged() -> None:
    result = avatars.encode(samples.encoded(Image.new("RGB", (64, 32), "white"), "PNG"))
    assert (result.width, result.height) == (64, 32)
    assert samples.opened(result.data).size == (64, 32)


def test_sixteen_bit_grey_keeps_its_shades() -> None:
    # A 16-bit greyscale PNG, left half mid-grey and right half a quarter grey: clipped to 8 bits
    # instead of scaled, both came out white.
    grey = Image.new("I;16", (64, 32), 0x8000)
    grey.paste(Image.new("I;16", (32, 32), 0x4000), (32, 0))
    out = io.BytesIO()
    grey.save(out, format="PNG")
    assert Image.open(io.BytesIO(out.getvalue())).mode.startswith("I")
    image = samples.opened(avatars.encode(out.getvalue()).data).convert("L")
    assert abs(image.getpixel((8, 16)) - 128) <= 3
    assert abs(image.getpixel((56, 16)) - 64) <= 3
