"""The admin's layout gallery: every template drawn with a kit's own copy and art, and a live preview of a
template being edited (validated, rendered, never saved until the operator says so)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from PIL import Image

from .composition import compose, png_bytes
from .layout_specs import TemplateError, layout_template, template_names, validate_template


@dataclass
class TemplatePreview:
    name: str
    label: str
    images: list[str] = field(default_factory=list)  # data: URIs, one per sample copy
    checks: list[dict] = field(default_factory=list)
    source: str = ""  # the template's JSON, for editing


def _data_uri(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def _samples(kit) -> tuple[list[dict], Image.Image | None, list[Image.Image]]:
    """Up to two copies (a Chinese and an English one where the kit has both) and up to four images."""
    from .models import ImageMaterial

    copies, seen = [], set()
    for copy in kit.copies.order_by("id"):
        if copy.language not in seen:
            seen.add(copy.language)
            copies.append({"headline": copy.headline, "subline": copy.subline, "cta": copy.cta,
                           "language": copy.language})
        if len(copies) == 2:
            break
    if not copies:
        copies = [{"headline": "Your headline here", "subline": "A line about the offer", "cta": "Learn more",
                   "language": "en"}]
    arts: list[Image.Image] = []
    for material in kit.images.filter(review=ImageMaterial.Review.ACCEPTED).order_by("id")[:4]:
        try:
            with material.file.open("rb") as handle, Image.open(handle) as opened:
                arts.append(opened.convert("RGB"))
        except (OSError, ValueError):
            continue
    return copies, (arts[0] if arts else None), arts[1:]


def _preview(template: dict, kit, copies, art, cells, layout=None) -> TemplatePreview:
    preview = TemplatePreview(template["name"], template.get("label", ""),
                              source=json.dumps(template, indent=2, ensure_ascii=False))
    placement = kit.placement
    for copy in copies:
        spec = {"layout": (template.get("kinds") or ["single_image_text"])[0], **copy,
                "colors": {"button": layout.button_color if layout else "#E8322E",
                           "background": layout.background_color if layout else "#F6F2E8"},
                "font_scale": layout.font_scale if layout else 1.0,
                "text_position": layout.text_position if layout else "left",
                "background_style": layout.background_style if layout else "solid",
                "color_tolerance": layout.color_tolerance if layout else None}
        composition = compose(spec, art, (placement.width, placement.height), cells=cells, template=template)
        preview.images.append(_data_uri(composition.image))
        preview.checks.append({"violations": composition.violations, "refused": composition.refused,
                               "notes": composition.checks["notes"], "contrast": composition.checks["contrast"]})
    return preview


def kit_gallery(kit) -> list[TemplatePreview]:
    """Each registered template drawn with the kit's copy and art at its placement's size."""
    copies, art, cells = _samples(kit)
    layout = kit.layouts.order_by("id").first()
    return [_preview(layout_template(name), kit, copies, art, cells, layout) for name in template_names()]


def edited_preview(kit, source: str) -> tuple[TemplatePreview | None, dict[str, str], dict | None]:
    """(preview, field errors, parsed spec) for a template's JSON as the operator typed it."""
    try:
        spec = json.loads(source)
    except json.JSONDecodeError as error:
        return None, {"spec": f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"}, None
    try:
        validate_template(spec)
    except TemplateError as error:
        return None, error.errors, None
    copies, art, cells = _samples(kit)
    try:
        return _preview(spec, kit, copies, art, cells, kit.layouts.order_by("id").first()), {}, spec
    except (ValueError, KeyError, TypeError, IndexError) as error:  # a valid but undrawable spec: say why
        return None, {"spec": f"the template could not be drawn: {error!r}"}, None
