"""An operator uploads images; dangerous or oversized files are refused, metadata is dropped."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from creative.uploads import clean_image_upload


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS info
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions: a decompression bomb's calling card."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_exif_is_stripped_and_the_image_kept():
    cleaned = clean_image_upload(_jpeg_with_exif(), name="photo.jpg")
    with Image.open(io.BytesIO(cleaned.read())) as image:
        assert image.size == (40, 30)
        assert not image.getexif()
    assert cleaned.name == "photo.jpg"


@pytest.mark.parametrize("payload", [
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"<!DOCTYPE html><html><body>hi</body></html>",
    b"  <svg onload='x'></svg>",
])
def test_svg_and_html_are_refused_even_when_named_png(payload):
    with pytest.raises(ValidationError, match="SVG and HTML"):
        clean_image_upload(payload, name="innocent.png")


def test_type_is_judged_by_content_not_name():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="GIF")
    with pytest.raises(ValidationError, match="GIF images are not accepted"):
        clean_image_upload(buffer.getvalue(), name="fake.png")
    with pytest.raises(ValidationError, match="not a readable"):
        clean_image_upload(b"MZ\x90\x00 definitely not an image", name="photo.jpg")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ValidationError, match="(limit is 40 million pixels|too large to decode)"):
        clean_image_upload(_png_header_only(50_000, 50_000), name="bomb.png")


def test_oversized_file_is_refused():
    with pytest.raises(ValidationError, match="limit is 15 MB"):
        clean_image_upload(b"\x89PNG" + b"\x00" * (16 * 1024 * 1024), name="big.png")
