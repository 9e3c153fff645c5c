"""`import_variants`: bring historical designs in as live variants, all rows or none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from ..composition import store_png
from ..models import Placement, ServingMode, StyleVariant, VariantStatus
from ..taxonomy import validate_tags
from .copy_io import read_table

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


@dataclass(frozen=True)
class VariantImportResult:
    placement: Placement
    created: int
    updated: int
    control_key: str | None


def _row_problems(line: int, row: dict[str, str], base_dir: Path, seen: set[str]) -> tuple[list[str], dict]:
    problems: list[str] = []
    key = row.get("variant_key", "")
    if not key:
        problems.append(f"line {line}, column variant_key: required")
    elif not _KEY_PATTERN.match(key):
        problems.append(f"line {line}, column variant_key: '{key}' must be 1-80 letters, digits, _ . : -")
    elif key in seen:
        problems.append(f"line {line}, column variant_key: '{key}' appears twice in the file")
    seen.add(key)
    default = row.get("default", "") or "0"
    if default not in {"0", "1"}:
        problems.append(f"line {line}, column default: must be 0 or 1, got '{default}'")
    if len(row.get("headline", "")) > 120:
        problems.append(f"line {line}, column headline: longer than 120 characters")
    tags: dict = {}
    for column, raw in row.items():
        if not column.startswith("tag:") or not raw:
            continue
        try:
            tags.update(validate_tags({column[4:]: raw.split("|")}))
        except ValidationError as exc:
            problems.extend(f"line {line}, column {column}: {m}" for m in exc.messages)
    image_path = None
    image = row.get("image", "")
    if image and not image.startswith(("http://", "https://")):
        try:
            image_path = (base_dir / image).resolve()
        except (ValueError, OSError):  # e.g. a NUL byte in the cell: no such file can exist
            image_path = base_dir / "\ufffd"
        if not image_path.is_file():
            problems.append(f"line {line}, column image: file '{image}' not found")
        else:
            try:
                with Image.open(image_path) as opened:
                    opened.verify()
            except (UnidentifiedImageError, OSError):
                problems.append(f"line {line}, column image: '{image}' is not a readable image")
    return problems, {"key": key, "default": default == "1", "tags": tags, "image_path": image_path,
                      "image_url": image if image.startswith(("http://", "https://")) else ""}


def variants_import(*, path: Path, placement_slug: str, create_placement: bool = False) -> VariantImportResult:
    data = Path(path).read_bytes()
    rows = read_table(data, str(path))
    if not rows:
        raise ValidationError({"file": "No rows after the header."})
    if "variant_key" not in rows[0]:
        raise ValidationError({"file": "line 1: missing required column 'variant_key'."})
    placement = Placement.objects.filter(slug=placement_slug).first()
    if placement is None and not create_placement:
        raise ValidationError({"placement": f"Unknown placement '{placement_slug}' (use --create-placement)."})

    problems: list[str] = []
    parsed: list[tuple[dict[str, str], dict]] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        row_problems, info = _row_problems(line, row, Path(path).parent, seen)
        problems.extend(row_problems)
        parsed.append((row, info))
    defaults = [info["key"] for _, info in parsed if info["default"]]
    if len(defaults) > 1:
        problems.append(f"column default: only one row may be the control design, got {', '.join(defaults)}")
    if problems:
        raise ValidationError({"file": problems})
    return _write(placement, placement_slug, parsed, defaults[0] if defaults else None)


@transaction.atomic
def _write(placement, slug, parsed, control_key) -> VariantImportResult:
    if placement is None:
        placement = Placement.objects.create(slug=slug, name=slug.replace("-", " ").title(), width=750, height=300,
                                             default_mode=ServingMode.CONTROL)
    now = timezone.now()
    created = updated = 0
    control = None
    for row, info in parsed:
        rendered = info["image_url"]
        if info["image_path"] is not None:
            with Image.open(info["image_path"]) as opened:
                rendered = store_png(opened.convert("RGB"), folder="imported")
        spec = {"layout": (info["tags"].get("layout") or ["single"])[0], "headline": row.get("headline", ""),
                "subline": row.get("subline", ""), "cta": row.get("cta", ""),
                "colors": {}, "font_scale": 1.0}
        variant, was_created = StyleVariant.objects.update_or_create(
            placement=placement, variant_key=info["key"],
            defaults={"tags": info["tags"], "render_spec": spec, "rendered_image": rendered,
                      "status": VariantStatus.LIVE},
        )
        if was_created:
            variant.published_at = now
            variant.save(update_fields=["published_at"])
            created += 1
        else:
            updated += 1
        if info["default"]:
            control = variant
    if control is not None:
        placement.control_variant = control
        placement.save(update_fields=["control_variant"])
    return VariantImportResult(placement=placement, created=created, updated=updated, control_key=control_key)


