"""Render variants to PNG files and record their render spec.

A first render writes the variant's own image. A later one (a part changed, or "Render (again)") is a new
version of the creative, so it goes through review again:

- a live or paused variant keeps serving its current version; the new one waits in `pending_revision`
  until an operator approves it (creative.services.variants.variant_revision_approve);
- an approved variant goes back to draft with the new render;
- a draft is simply re-rendered; a retired one is left alone.

Every re-render is audited.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from PIL import Image

from ..composition import compose, frame_of, render_spec_for, rgb_to_hex, store_png
from ..models import StyleVariant, VariantStatus
from .variants import audit, variant_computed_tags, variant_transition

S = VariantStatus


def _render(variant: StyleVariant) -> tuple[dict, str]:
    """(render spec, rendered image path) for the variant's current parts; nothing is saved."""
    spec = render_spec_for(variant)
    source = None
    if variant.image is not None and variant.image.file:
        with variant.image.file.open("rb") as handle, Image.open(handle) as opened:
            source = opened.convert("RGB")
    placement = variant.placement
    composition = compose(spec, source, (placement.width, placement.height))
    spec["colors"]["text"] = rgb_to_hex(composition.text_color)
    spec["colors"]["button_text"] = rgb_to_hex(composition.button_text_color)
    # What a front end needs to draw the variant natively (the SDK's renderBanner): the art, backdrop and
    # background without any text, and where each text and the button go.
    spec["frame"] = {**frame_of(composition),
                     "background": settings.MEDIA_URL + store_png(composition.background, folder="backgrounds")}
    return spec, store_png(composition.image)


def variant_render(*, variant: StyleVariant) -> StyleVariant:
    """Render in place (a variant's first render, or a draft's)."""
    variant.render_spec, variant.rendered_image = _render(variant)
    variant.save(update_fields=["render_spec", "rendered_image", "updated_at"])
    return variant


def variant_rerender(*, variant: StyleVariant, by=None, reason: str = "rendered again") -> str:
    """Render the variant's current parts again, sending the result through review; returns what happened:
    "rendered", "back to draft", "revision pending" or "skipped" (retired)."""
    if variant.status == S.RETIRED:
        return "skipped"
    had_image = bool(variant.rendered_image)
    if variant.status in (S.LIVE, S.PAUSED) and had_image:
        spec, image = _render(variant)
        variant.pending_revision = {"render_spec": spec, "rendered_image": image,
                                    "tags": variant_computed_tags(variant), "reason": reason[:300]}
        variant.save(update_fields=["pending_revision", "updated_at"])
        audit(variant, action="render", to_value="revision pending", by=by,
              note=f"{reason}; the current version serves until the revision is approved")
        return "revision pending"
    variant.render_spec, variant.rendered_image = _render(variant)
    variant.tags = variant_computed_tags(variant)
    variant.pending_revision = {}
    variant.save(update_fields=["render_spec", "rendered_image", "tags", "pending_revision", "updated_at"])
    if had_image:
        audit(variant, action="render", to_value="rendered", by=by, note=reason)
    if variant.status == S.APPROVED:
        variant_transition(variant=variant, to_status=S.DRAFT, by=by, note=f"{reason}: to be approved again")
        return "back to draft"
    return "rendered"


def variants_render(*, variants: Iterable[StyleVariant]) -> int:
    count = 0
    for variant in variants:
        variant_render(variant=variant)
        count += 1
    return count


def variants_rerender(*, variants: Iterable[StyleVariant], by=None, reason: str = "rendered again") -> dict[str, int]:
    """Re-render many variants; counts per outcome (see variant_rerender)."""
    outcomes: dict[str, int] = {}
    for variant in variants:
        outcome = variant_rerender(variant=variant, by=by, reason=reason)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def outcomes_summary(outcomes: dict[str, int]) -> str:
    if not outcomes:
        return "no variants to render"
    return ", ".join(f"{count} {what}" for what, count in sorted(outcomes.items()))
