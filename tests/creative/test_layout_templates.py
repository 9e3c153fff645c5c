"""A designer adds or edits a layout as a JSON file (no Python), an operator previews it live in the admin,
and a layout row picks it by name; bad files and bad input get field messages, never a 500."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from creative.composition import compose, render_spec_for
from creative.layout_specs import (
    BUILTIN_DIR,
    KIND_DEFAULT_TEMPLATE,
    TemplateError,
    layout_template,
    reload_templates,
    template_names,
    template_problems,
    validate_template,
)
from creative.models import LayoutTemplate
from tests.factories import (
    CopyVariantFactory,
    CreativeKitFactory,
    ImageMaterialFactory,
    LayoutTemplateFactory,
    StyleVariantFactory,
)


@pytest.fixture
def designer_folder(tmp_path, settings):
    settings.KALEIDO_LAYOUTS_DIR = str(tmp_path)
    reload_templates()
    yield tmp_path
    del settings.KALEIDO_LAYOUTS_DIR  # restore before reloading, so later tests see only the real folders
    reload_templates()


def _edited(name="banner_right_copy", **changes):
    spec = json.loads((BUILTIN_DIR / "image_left.json").read_text())
    spec.update(name=name, label="Image right, copy left", **changes)
    spec["art"] = {**spec["art"], "box": [0.58, 0, 1, 1]}
    spec["text_box"] = {"default": [0, 0, 0.58, 1]}
    return spec


def test_shipped_templates_are_valid_and_cover_every_kind():
    for name in ("full_bleed", "image_left", "product_card", "product_grid", "text_only"):
        assert name in template_names()
        validate_template(layout_template(name))
    for kind, name in KIND_DEFAULT_TEMPLATE.items():
        assert layout_template(kind=kind)["name"] == name
    assert set(KIND_DEFAULT_TEMPLATE) == set(LayoutTemplate.Kind.values)  # the old kinds keep their meaning
    assert layout_template("no-such-template", "grid")["name"] == "product_grid"


def test_a_designer_adds_a_layout_as_a_file_and_it_renders(designer_folder):
    (designer_folder / "banner_right_copy.json").write_text(json.dumps(_edited()))
    reload_templates()
    assert "banner_right_copy" in template_names()
    spec = {"layout": "left_image", "template": "banner_right_copy", "headline": "Gold Savings",
            "subline": "No fees", "cta": "Open", "colors": {"button": "#1F6FEB", "background": "#FFFFFF"}}
    art = Image.new("RGB", (900, 900), (10, 120, 200))
    composition = compose(spec, art, (750, 300))
    assert composition.template == "banner_right_copy"
    assert composition.image.getpixel((740, 150)) == (10, 120, 200)  # art on the right now
    assert composition.text_region[2] <= int(0.58 * 750)


def test_a_broken_designer_file_is_left_out_and_named_not_fatal(designer_folder):
    (designer_folder / "oops.json").write_text('{"name": "oops", "text_box": {"default": [0, 0, 2, 1]}}')
    (designer_folder / "not_json.json").write_text("{")
    reload_templates()
    problems = template_problems()
    assert "oops.json" in problems and "text_box.default" in problems["oops.json"]
    assert "not_json.json" in problems
    assert "full_bleed" in template_names()


def test_validation_names_each_bad_field():
    bad = _edited(safe_zone=0.9, align="justify")
    bad["type"]["headline"]["size"] = 3
    bad["grid"] = {"box": [0.5, 0, 1, 1], "cells": 9}
    with pytest.raises(TemplateError) as raised:
        validate_template(bad)
    assert {"safe_zone", "align", "type.headline.size", "grid.cells"} <= set(raised.value.errors)


@pytest.mark.django_db
def test_a_layout_row_names_its_template_and_unknown_names_are_refused():
    layout = LayoutTemplateFactory(template="product_card")
    layout.full_clean()
    layout.template = "nope"
    with pytest.raises(ValidationError) as raised:
        layout.full_clean()
    assert "template" in raised.value.message_dict


@pytest.mark.django_db
def test_render_spec_names_the_template_adjusts_the_red_and_lists_grid_products():
    kit = CreativeKitFactory()
    copy = CopyVariantFactory(kit=kit)
    images = [ImageMaterialFactory(kit=kit) for _ in range(4)]
    layout = LayoutTemplateFactory(kit=kit, kind="grid", button_color="#E8322E")
    variant = StyleVariantFactory(placement=kit.placement, kit=kit, copy=copy, image=images[0], layout=layout)
    spec = render_spec_for(variant)
    assert spec["template"] == "product_grid"
    assert spec["colors"]["brand_button"] == "#E8322E" and spec["colors"]["button"] != "#E8322E"
    assert len(spec["cells"]) == 3 and images[0].file.name not in spec["cells"]
    assert "refused" not in spec
    layout.color_tolerance = 0.5
    layout.save()
    variant.refresh_from_db()
    refused = render_spec_for(variant)
    assert "4.5:1" in refused["refused"] and refused["colors"]["button"] == "#E8322E"


@pytest.mark.django_db
def test_the_admin_gallery_previews_every_template_and_an_edit_live(staff_client, designer_folder):
    kit = CreativeKitFactory(placement__width=343, placement__height=160)
    CopyVariantFactory(kit=kit, headline="新人专享红包 最高88元", subline="首次存入即可领取现金红包", cta="领红包",
                       language="zh")
    ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit)
    url = reverse("admin:creative_kit_layouts", args=[kit.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("full_bleed", "image_left", "product_card", "product_grid", "text_only"):
        assert name in html
    assert html.count("data:image/png;base64,") >= 5

    preview = staff_client.post(url, {"spec": json.dumps(_edited())})
    assert preview.status_code == 200 and "banner_right_copy" in preview.content.decode()
    assert not (designer_folder / "banner_right_copy.json").exists()  # a preview saves nothing

    bad = staff_client.post(url, {"spec": json.dumps(_edited(align="justify"))})
    assert bad.status_code == 400 and "align" in bad.content.decode()
    garbled = staff_client.post(url, {"spec": "{not json"})
    assert garbled.status_code == 400 and "not valid JSON" in garbled.content.decode()

    saved = staff_client.post(url, {"spec": json.dumps(_edited()), "save": "yes"})
    assert saved.status_code == 200
    assert (designer_folder / "banner_right_copy.json").exists() and "banner_right_copy" in template_names()


@pytest.mark.django_db
def test_rendering_a_kit_draws_each_layout_from_its_template_and_the_grid_shows_a_refusal(staff_client):
    from creative.services.combination import kit_combine
    from creative.services.rendering import variants_render

    kit = CreativeKitFactory(placement__width=343, placement__height=160)
    CopyVariantFactory(kit=kit, headline="稳健理财，年化4.5%", subline="零手续费，随存随取", cta="立即开通",
                       language="zh")
    for _ in range(3):
        ImageMaterialFactory(kit=kit)
    LayoutTemplateFactory(kit=kit, kind="grid", button_color="#E8322E", tags={})
    LayoutTemplateFactory(kit=kit, kind="text_only", template="text_only", button_color="#E8322E",
                          color_tolerance=0.2, tags={})
    kit_combine(kit=kit)
    variants = list(kit.variants.select_related("copy", "image", "layout", "placement"))
    assert variants_render(variants=variants) == 6
    by_template = {}
    for variant in kit.variants.all():
        assert variant.rendered_image
        by_template.setdefault(variant.render_spec["template"], []).append(variant)
    assert set(by_template) == {"product_grid", "text_only"}
    assert all(len(v.render_spec["cells"]) == 2 for v in by_template["product_grid"])
    assert all("4.5:1" in v.render_spec["refused"] for v in by_template["text_only"])
    page = staff_client.get(reverse("admin:creative_kit_preview", args=[kit.pk])).content.decode()
    assert page.count("Refused: ") == 3
