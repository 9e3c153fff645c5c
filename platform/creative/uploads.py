"""Checks on uploaded images: real raster content, bounded size, no metadata carried along."""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000  # about 7700×5200; larger is refused before it is decoded
ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


def clean_image_upload(data: bytes, *, name: str = "image") -> ContentFile:
    """A re-encoded copy of an uploaded image, or a ValidationError saying why it was refused.

    The type is judged by content, never by the file name: SVG, HTML and anything Pillow cannot
    read as PNG/JPEG/WebP is refused. Re-encoding drops EXIF (location, device) and any payload
    appended to the file.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is {len(data) // 1024 // 1024} MB; the limit is "
                              f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype", b"<html")) or b"<svg" in head:
        raise ValidationError("SVG and HTML files are not accepted; upload a PNG, JPEG or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(f"The image is {width}×{height} pixels; the limit is "
                                          f"{MAX_PIXELS // 1_000_000} million pixels.")
                if fmt not in ALLOWED_FORMATS:
                    raise ValidationError(f"{fmt or 'This'} images are not accepted; upload PNG, JPEG or WebP.")
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                mode = "RGBA" if opened.mode in ("RGBA", "LA", "P") and fmt == "PNG" else "RGB"
                clean = opened.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError("The image is too large to decode safely.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError("The file is not a readable PNG, JPEG or WebP image.") from exc
    out = io.BytesIO()
    save_format = "JPEG" if fmt == "JPEG" else fmt
    clean.save(out, format=save_format, **({"quality": 92} if save_format == "JPEG" else {}))
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0][:60] or "image"
    return ContentFile(out.getvalue(), name=f"{stem}.{ALLOWED_FORMATS[fmt]}")
