"""Many images into a kit at once: several files, or zip archives of them, each checked on its own.

Every image goes through uploads.clean_image_upload (content type by content, size and pixel caps,
metadata dropped). A bad file is named with its reason and skipped; the good ones are still added. A zip
is read member by member with caps on the number of members and on what they unpack to, so an archive
cannot fill the disk or the memory.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import CreativeKit, ImageMaterial
from ..uploads import MAX_UPLOAD_BYTES, clean_image_upload

MAX_FILES = 500  # images per upload, zip members included
MAX_UNPACKED_BYTES = 500 * 1024 * 1024


@dataclass
class ImagesUpload:
    created: list[ImageMaterial] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _members(name: str, data: bytes, problems: list[str]) -> Iterable[tuple[str, bytes]]:
    if not name.lower().endswith(".zip"):
        yield name, data
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        problems.append(f"{name}: not a readable zip archive")
        return
    unpacked = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir() or info.filename.startswith("__MACOSX/") or info.filename.rsplit("/", 1)[-1].startswith("."):
                continue
            member = f"{name}/{info.filename}"
            if info.file_size > MAX_UPLOAD_BYTES:
                problems.append(f"{member}: {info.file_size // 1024 // 1024} MB; the limit is "
                                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB")
                continue
            unpacked += info.file_size
            if unpacked > MAX_UNPACKED_BYTES:
                problems.append(f"{name}: unpacks to more than {MAX_UNPACKED_BYTES // 1024 // 1024} MB; "
                                "the rest was not read")
                return
            with archive.open(info) as handle:
                yield member, handle.read(MAX_UPLOAD_BYTES + 1)


@transaction.atomic
def images_upload(*, kit: CreativeKit, files: Iterable[tuple[str, bytes]]) -> ImagesUpload:
    """Add each readable image to the kit (uploaded images need no review); name every refused one."""
    result = ImagesUpload()
    seen = 0
    for name, data in files:
        for member, content in _members(name, data, result.problems):
            seen += 1
            if seen > MAX_FILES:
                result.problems.append(f"more than {MAX_FILES} images in one upload; the rest was not read")
                return result
            try:
                cleaned = clean_image_upload(content, name=member)
            except ValidationError as exc:
                result.problems.append(f"{member}: {' '.join(exc.messages)}")
                continue
            material = ImageMaterial(kit=kit, source=ImageMaterial.Source.UPLOADED)
            material.file.save(cleaned.name, cleaned, save=False)
            material.save()
            result.created.append(material)
    return result
