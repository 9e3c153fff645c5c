"""Render variants to PNG files and record their render spec."""

from __future__ import annotations

from collections.abc import Iterable

from PIL import Image

from ..composition import compose, render_spec_for, rgb_to_hex, store_png
from ..models import StyleVariant


def variant_render(*, variant: StyleVariant) -> StyleVariant:
    spec = render_spec_for(variant)
    source = None
    if variant.image is not None and variant.image.file:
        with variant.image.file.open("rb") as handle, Image.open(handle) as opened:
            source = opened.convert("RGB")
    placement = variant.placement
    composition = compose(spec, source, (placement.width, placement.height))
    spec["colors"]["text"] = rgb_to_hex(composition.text_color)
    spec["colors"]["button_text"] = rgb_to_hex(composition.button_text_color)
    variant.render_spec = spec
    variant.rendered_image = store_png(composition.image)
    variant.save(update_fields=["render_spec", "rendered_image", "updated_at"])
    return variant


def variants_render(*, variants: Iterable[StyleVariant]) -> int:
    count = 0
    for variant in variants:
        variant_render(variant=variant)
        count += 1
    return count
