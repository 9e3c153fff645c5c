"""Cross product of a kit's materials into style variants."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.db import transaction

from ..models import CreativeKit, ExclusionRule, StyleVariant
from ..taxonomy import merge_tags, tag_pairs


@dataclass(frozen=True)
class CombineResult:
    created: int
    existing: int
    excluded: int
    capped: int


def variant_key_for(copy_id: int, image_id: int, layout_id: int) -> str:
    return f"c{copy_id}-i{image_id}-l{layout_id}"


def exclusion_pairs(kit: CreativeKit) -> list[tuple[str, str]]:
    rules = ExclusionRule.objects.filter(kit__isnull=True) | ExclusionRule.objects.filter(kit=kit)
    return [(r.tag_a.strip(), r.tag_b.strip()) for r in rules]


def is_excluded(tags: dict[str, list[str]], rules: list[tuple[str, str]]) -> bool:
    present = tag_pairs(tags)
    return any(a in present and b in present for a, b in rules)


@transaction.atomic
def kit_combine(*, kit: CreativeKit, cap: int | None = None) -> CombineResult:
    """Create draft variants for every copy × image × layout not yet made, up to the kit's cap.

    Re-running only adds what is new; combinations that break an exclusion rule are skipped.
    """
    cap = kit.max_variants if cap is None else cap
    copies, images, layouts = list(kit.copies.all()), list(kit.images.all()), list(kit.layouts.all())
    existing_keys = set(StyleVariant.objects.filter(placement=kit.placement).values_list("variant_key", flat=True))
    kit_variant_count = StyleVariant.objects.filter(kit=kit).count()
    rules = exclusion_pairs(kit)
    to_create: list[StyleVariant] = []
    existing = excluded = capped = 0
    for copy, image, layout in itertools.product(copies, images, layouts):
        key = variant_key_for(copy.id, image.id, layout.id)
        if key in existing_keys:
            existing += 1
            continue
        tags = merge_tags(copy.tags, image.tags, layout.tags)
        if is_excluded(tags, rules):
            excluded += 1
            continue
        if kit_variant_count + len(to_create) >= cap:
            capped += 1
            continue
        to_create.append(StyleVariant(placement=kit.placement, kit=kit, copy=copy, image=image, layout=layout,
                                      variant_key=key, tags=tags))
    StyleVariant.objects.bulk_create(to_create)
    return CombineResult(created=len(to_create), existing=existing, excluded=excluded, capped=capped)
