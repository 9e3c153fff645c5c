"""Cross product of a kit's materials into style variants.

Only accepted images take part (a generated image waits for review on its job); a layout contributes the
tags its fields imply (creative.layout_tags), so a rule such as dominant_color=red never with
button_color=red sees the layout's button colour.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from ..layout_tags import layout_effective_tags
from ..models import CreativeKit, ExclusionRule, ImageMaterial, StyleVariant
from ..taxonomy import merge_tags, parse_tag, tag_pairs


@dataclass(frozen=True)
class CombineResult:
    created: int
    existing: int
    excluded: int
    capped: int


def variant_key_for(copy_id: int, image_id: int, layout_id: int) -> str:
    return f"c{copy_id}-i{image_id}-l{layout_id}"


def exclusion_rules(kit: CreativeKit) -> list[ExclusionRule]:
    return list((ExclusionRule.objects.filter(kit__isnull=True) | ExclusionRule.objects.filter(kit=kit)).order_by("id"))


def exclusion_pairs(kit: CreativeKit) -> list[tuple[str, str]]:
    return [(r.tag_a.strip(), r.tag_b.strip()) for r in exclusion_rules(kit)]


def exclusion_rule_clean(*, tag_a: str, tag_b: str) -> tuple[str, str]:
    """Both sides as 'group=value' known to the taxonomy, and two different tags; else field errors."""
    errors: dict[str, list[str]] = {}
    cleaned = []
    for field, text in (("tag_a", tag_a), ("tag_b", tag_b)):
        try:
            group, value = parse_tag(text, field=field)
            cleaned.append(f"{group}={value}")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not errors and cleaned[0] == cleaned[1]:
        errors["tag_b"] = ["a rule needs two different tags"]
    if errors:
        raise ValidationError(errors)
    return cleaned[0], cleaned[1]


def kit_materials(kit: CreativeKit) -> tuple[list, list, list[tuple]]:
    """(copies, accepted images, [(layout, its effective tags)]) as combination uses them."""
    images = list(kit.images.filter(review=ImageMaterial.Review.ACCEPTED))
    return list(kit.copies.all()), images, [(layout, layout_effective_tags(layout)) for layout in kit.layouts.all()]


def kit_exclusion_counts(kit: CreativeKit) -> list[tuple[ExclusionRule, int]]:
    """Each rule that applies to the kit and how many of its copy × image × layout combinations it excludes
    (a combination breaking two rules counts for both)."""
    rules = exclusion_rules(kit)
    copies, images, layouts = kit_materials(kit)
    counts = dict.fromkeys((r.pk for r in rules), 0)
    for copy, image, (_, layout_tags) in itertools.product(copies, images, layouts):
        present = tag_pairs(merge_tags(copy.tags, image.tags, layout_tags))
        for rule in rules:
            if rule.tag_a.strip() in present and rule.tag_b.strip() in present:
                counts[rule.pk] += 1
    return [(rule, counts[rule.pk]) for rule in rules]


def is_excluded(tags: dict[str, list[str]], rules: list[tuple[str, str]]) -> bool:
    present = tag_pairs(tags)
    return any(a in present and b in present for a, b in rules)


@transaction.atomic
def kit_combine(*, kit: CreativeKit, cap: int | None = None) -> CombineResult:
    """Create draft variants for every copy × image × layout not yet made, up to the kit's cap.

    Re-running only adds what is new; combinations that break an exclusion rule are skipped.
    """
    cap = kit.max_variants if cap is None else cap
    copies, images, layouts = kit_materials(kit)
    existing_keys = set(StyleVariant.objects.filter(placement=kit.placement).values_list("variant_key", flat=True))
    kit_variant_count = StyleVariant.objects.filter(kit=kit).count()
    rules = exclusion_pairs(kit)
    to_create: list[StyleVariant] = []
    existing = excluded = capped = 0
    for copy, image, (layout, layout_tags) in itertools.product(copies, images, layouts):
        key = variant_key_for(copy.id, image.id, layout.id)
        if key in existing_keys:
            existing += 1
            continue
        tags = merge_tags(copy.tags, image.tags, layout_tags)
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
