"""An operator combines a kit's materials into variants."""

import pytest

from creative.models import ExclusionRule, StyleVariant
from creative.services.combination import kit_combine
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
)

pytestmark = pytest.mark.django_db


def _kit(copies=3, images=2, layouts=2, cap=200):
    kit = CreativeKitFactory(max_variants=cap)
    for _ in range(copies):
        CopyVariantFactory(kit=kit)
    for color in ["red", "blue"][:images]:
        ImageMaterialFactory(kit=kit, tags={"dominant_color": [color]})
    for button in ["red", "blue"][:layouts]:
        LayoutTemplateFactory(kit=kit, tags={"button_color": [button], "layout": ["single"]})
    return kit


def test_cross_product_makes_one_draft_variant_per_combination_with_union_tags():
    kit = _kit()
    result = kit_combine(kit=kit)
    assert result.created == 3 * 2 * 2
    variant = StyleVariant.objects.get(copy=kit.copies.first(), image=kit.images.first(), layout=kit.layouts.first())
    assert variant.status == "draft"
    assert variant.variant_key == f"c{variant.copy_id}-i{variant.image_id}-l{variant.layout_id}"
    assert variant.tags == {"appeal": ["benefit"], "button_color": ["red"], "dominant_color": ["red"],
                            "layout": ["single"],
                            # what the layout's own fields imply: image background, regular font, text left
                            "background": ["image"], "font_scale": ["regular"], "text_position": ["left"]}


def test_rerunning_only_adds_what_is_new():
    kit = _kit()
    kit_combine(kit=kit)
    again = kit_combine(kit=kit)
    assert again.created == 0 and again.existing == 12
    CopyVariantFactory(kit=kit)
    third = kit_combine(kit=kit)
    assert third.created == 4
    assert StyleVariant.objects.filter(kit=kit).count() == 16
    assert StyleVariant.objects.values("variant_key").distinct().count() == 16


def test_cap_limits_the_number_of_variants():
    kit = _kit(cap=5)
    result = kit_combine(kit=kit)
    assert result.created == 5 and result.capped == 7
    assert kit_combine(kit=kit).created == 0


def test_exclusion_rule_keeps_red_background_and_red_button_apart():
    kit = _kit()
    ExclusionRule.objects.create(kit=kit, tag_a="dominant_color=red", tag_b="button_color=red")
    result = kit_combine(kit=kit)
    assert result.excluded == 3
    for variant in StyleVariant.objects.filter(kit=kit):
        assert not ("red" in variant.tags["dominant_color"] and "red" in variant.tags["button_color"])


def test_global_exclusion_rule_applies_to_every_kit():
    kit = _kit()
    ExclusionRule.objects.create(kit=None, tag_a="dominant_color=blue", tag_b="button_color=blue")
    assert kit_combine(kit=kit).excluded == 3


def test_tags_with_control_characters_are_refused_before_reaching_the_database():
    from django.core.exceptions import ValidationError

    from creative.taxonomy import validate_tags

    with pytest.raises(ValidationError, match="control characters"):
        validate_tags({"appeal\x00": ["benefit"]})
    with pytest.raises(ValidationError, match="control characters"):
        validate_tags({"appeal": ["bene\x00fit"]})
