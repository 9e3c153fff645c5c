"""`import_variants`: bring historical designs in as live variants, all rows or none.

`image` is a file under MEDIA_ROOT (a relative path, or an absolute one inside it; nothing outside it
is read) or an http(s) URL, which is served as it is. `tag:<group>` columns name tag groups; with
`create_tags` the groups and values the file uses are declared in the taxonomy first (in the same
transaction, so a refused file declares nothing), otherwise each unknown one is refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from PIL import Image

from ..composition import store_png
from ..dynamic_copy import line_errors
from ..models import Placement, ServingMode, StyleVariant, VariantStatus
from ..selectors import placement_by_slug_or_none
from ..taxonomy import validate_tags
from ..uploads import clean_image_upload
from .copy_io import read_table
from .taxonomy_io import TagColumn, parse_tag_column, taxonomy_declare, unknown_tags

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
_URL = URLValidator(schemes=["http", "https"])
_MAX_IMAGE_REF = 255  # StyleVariant.rendered_image


@dataclass(frozen=True)
class VariantImportResult:
    placement: Placement
    created: int
    updated: int
    control_key: str | None
    declared_groups: tuple[str, ...] = ()
    declared_values: tuple[str, ...] = ()  # "group=value"


def _is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


def _media_file(image: str) -> Path | None:
    """The file a relative or absolute `image` names, if it lies inside MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        path = (root / image).resolve()  # an absolute `image` replaces root here
    except (ValueError, OSError):  # e.g. a NUL byte in the cell: no such file can exist
        return None
    return path if path.is_relative_to(root) else None


def _image_problems(where: str, image: str) -> tuple[list[str], Path | None]:
    if _is_url(image):
        try:
            _URL(image)
        except ValidationError:
            return [f"{where}: '{image[:80]}' is not a valid http(s) URL"], None
        if len(image) > _MAX_IMAGE_REF:
            return [f"{where}: URLs longer than {_MAX_IMAGE_REF} characters are not accepted"], None
        return [], None
    path = _media_file(image)
    if path is None:
        return [f"{where}: '{image[:80]}' is outside MEDIA_ROOT; give a path under it or an http(s) URL"], None
    if not path.is_file():
        return [f"{where}: file '{image[:80]}' not found under MEDIA_ROOT"], None
    try:
        clean_image_upload(path.read_bytes(), name=path.name)
    except ValidationError as exc:
        return [f"{where}: '{image[:80]}': {m}" for m in exc.messages], None
    except OSError as exc:
        return [f"{where}: '{image[:80]}' cannot be read ({exc.strerror or exc})"], None
    return [], path


def _row_problems(line: int, row: dict[str, str], columns: dict[str, TagColumn], skip: set[tuple[str, str]],
                  seen: set[str]) -> tuple[list[str], dict]:
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
    problems.extend(f"line {line}, column headline: {problem}" for problem in line_errors(row.get("headline", "")))
    tags: dict = {}
    for column, tag_column in columns.items():
        raw = row.get(column, "")
        # Unknown groups and values were named once for the whole file; the rest is checked per row.
        values = [v for v in raw.split("|") if v.strip() and (tag_column.group, v.strip()) not in skip]
        if not values or (tag_column.group, "") in skip:
            continue
        try:
            tags.update(validate_tags({tag_column.group: values}))
        except ValidationError as exc:
            problems.extend(f"line {line}, column {column}: {m}" for m in exc.messages)
    image = row.get("image", "")
    image_problems, image_path = _image_problems(f"line {line}, column image", image) if image else ([], None)
    problems.extend(image_problems)
    return problems, {"key": key, "default": default == "1", "tags": tags, "image_path": image_path,
                      "image_url": image if _is_url(image) else ""}


def variants_import(*, path: Path, placement_slug: str, create_placement: bool = False,
                    create_tags: bool = False) -> VariantImportResult:
    data = Path(path).read_bytes()
    rows = read_table(data, str(path))
    if not rows:
        raise ValidationError({"file": "No rows after the header."})
    if "variant_key" not in rows[0]:
        raise ValidationError({"file": "line 1: missing required column 'variant_key'."})
    placement = placement_by_slug_or_none(placement_slug)
    if placement is None and not create_placement:
        raise ValidationError({"placement": f"Unknown placement '{placement_slug}' (use --create-placement)."})

    problems: list[str] = []
    columns: dict[str, TagColumn] = {}
    for name in rows[0]:
        if name.startswith("tag:"):
            try:
                columns[name] = parse_tag_column(name)
            except ValidationError as exc:
                problems.extend(f"line 1, column {name[:80]}: {m}" for m in exc.messages)
    groups = [c.group for c in columns.values()]
    problems.extend(f"line 1: two columns name the tag group '{g}'" for g in sorted(set(groups))
                    if groups.count(g) > 1)
    if problems:
        raise ValidationError({"file": problems})
    with transaction.atomic():
        return _import(rows, placement, placement_slug, columns, create_tags=create_tags)


def _import(rows, placement, slug, columns, *, create_tags: bool) -> VariantImportResult:
    used = [(line, column, value.strip()) for line, row in enumerate(rows, start=2)
            for column, value_list in ((c, row.get(c, "")) for c in columns)
            for value in value_list.split("|") if value.strip()]
    plan = unknown_tags(columns, used)
    problems: list[str] = list(plan.conflicts)
    declared = ((), ())
    skip: set[tuple[str, str]] = set()
    if create_tags:
        try:
            declared = taxonomy_declare(plan)
        except ValidationError as exc:
            problems.extend(exc.messages)
            skip = plan.unknown_pairs()
    else:
        problems.extend(plan.refusals())
        skip = plan.unknown_pairs()
    parsed: list[tuple[dict[str, str], dict]] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        row_problems, info = _row_problems(line, row, columns, skip, seen)
        problems.extend(row_problems)
        parsed.append((row, info))
        if len(problems) > 500:
            problems.append("… stopped after 500 problems")
            break
    defaults = [info["key"] for _, info in parsed if info["default"]]
    if len(defaults) > 1:
        problems.append(f"column default: only one row may be the control design, got {', '.join(defaults)}")
    if problems:
        raise ValidationError({"file": problems})  # the atomic block drops any declared tags too
    result = _write(placement, slug, parsed, defaults[0] if defaults else None)
    return VariantImportResult(placement=result.placement, created=result.created, updated=result.updated,
                               control_key=result.control_key, declared_groups=declared[0],
                               declared_values=declared[1])


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
