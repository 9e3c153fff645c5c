"""Exclusion rules see the layouts: a layout carries the tags its own fields imply.

The operators' guide's own example, `dominant_color=red` never with `button_color=red`, run as an operator
would: a red picture, a layout with the default red button and one with a blue button, the rule typed on
the kit page. No red-on-red variant is made, and the kit page says how many combinations the rule excluded.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from access.roles import OPERATORS
from creative.layout_tags import color_name, layout_implied_tags
from creative.models import LayoutTemplate
from creative.services.combination import kit_combine
from tests.factories import CopyVariantFactory, CreativeKitFactory, ImageMaterialFactory
from tests.hardening.factories import role_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("hex_color", "name"), [
    ("#E8322E", "red"), ("#1F5FE0", "blue"), ("#2EA44F", "green"), ("#F5A623", "orange"), ("#D4AF37", "gold"),
    ("#7B3FE4", "purple"), ("#111111", "black"), ("#FFFFFF", "white"), ("#808080", "gray"), ("nonsense", None)])
def test_a_hex_colour_gets_its_taxonomy_name(hex_color, name):
    assert color_name(hex_color) == name


def test_a_layout_implies_its_button_colour_kind_font_scale_text_position_and_background():
    layout = LayoutTemplate(kind="left_image", font_scale=1.3, button_color="#1F5FE0", background_style="gradient",
                            text_position="right")
    assert layout_implied_tags(layout) == {"button_color": ["blue"], "layout": ["left_image"],
                                           "font_scale": ["large"], "text_position": ["right"],
                                           "background": ["gradient"]}


def test_the_guides_example_rule_keeps_red_buttons_off_red_pictures():
    operator = Client()
    operator.force_login(role_user(OPERATORS))
    kit = CreativeKitFactory()
    CopyVariantFactory(kit=kit)
    ImageMaterialFactory(kit=kit, tags={"dominant_color": ["red"]})
    ImageMaterialFactory(kit=kit, tags={"dominant_color": ["blue"]})
    url = reverse("admin:creative_creativekit_change", args=[kit.pk])
    form = {"placement": kit.placement.pk, "name": kit.name, "offer_name": kit.offer_name, "max_variants": 200,
            "copies-TOTAL_FORMS": 0, "copies-INITIAL_FORMS": 0, "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0,
            "layouts-TOTAL_FORMS": 2, "layouts-INITIAL_FORMS": 0,
            "exclusion_rules-TOTAL_FORMS": 1, "exclusion_rules-INITIAL_FORMS": 0,
            "exclusion_rules-0-tag_a": "dominant_color=red", "exclusion_rules-0-tag_b": "button_color=red"}
    for i, (name, color) in enumerate((("Red button", "#E8322E"), ("Blue button", "#1F5FE0"))):
        form.update({f"layouts-{i}-name": name, f"layouts-{i}-kind": "single_image_text",
                     f"layouts-{i}-font_scale": 1.0, f"layouts-{i}-button_color": color,
                     f"layouts-{i}-background_style": "image", f"layouts-{i}-background_color": "#FFFFFF",
                     f"layouts-{i}-text_position": "left", f"layouts-{i}-tags": "{}"})
    assert operator.post(url, form).status_code == 302
    red_layout = kit.layouts.get(name="Red button")
    assert red_layout.tags["button_color"] == ["red"]  # the layout's page shows what it implies

    result = kit_combine(kit=kit)

    assert (result.created, result.excluded) == (3, 1)
    red_on_red = [v for v in kit.variants.all()
                  if "red" in v.tags.get("dominant_color", []) and "red" in v.tags.get("button_color", [])]
    assert red_on_red == []
    page = operator.get(url).content.decode()
    assert "never dominant_color=red with button_color=red" in page and "excludes 1 combination(s)" in page
