"""An operator renders variants and sees exact sizes, copy that fits and readable text."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from creative.composition import (
    MIN_CONTRAST,
    compose,
    fit_text,
    load_font,
    worst_contrast,
)


def _spec(**overrides):
    spec = {"layout": "single_image_text", "headline": "Gold Savings Plan", "subline": "No fees, withdraw anytime",
            "cta": "Start now", "colors": {"button": "#E8322E", "background": "#FFFFFF"}, "font_scale": 1.0}
    spec.update(overrides)
    return spec


def _photo(color=(200, 180, 90)):
    image = Image.new("RGB", (640, 480), color)
    ImageDraw.Draw(image).ellipse((200, 100, 440, 380), fill=(20, 40, 120))
    return image


@pytest.mark.parametrize("layout", ["single_image_text", "left_image", "list", "grid"])
@pytest.mark.parametrize("size", [(750, 300), (343, 160)])
def test_render_has_the_placement_exact_size(layout, size):
    composition = compose(_spec(layout=layout), _photo(), size)
    assert composition.image.size == size


LONG_EN = ("An extraordinarily long headline that keeps going and going about savings, interest, bonuses, "
           "red packets and everything else an eager marketer could possibly want to say in one banner")
LONG_ZH = "稳健理财年化收益高达百分之四点五零手续费随存随取新人专享红包最高八十八元限时三天加息活动火热进行中快来参加吧"


@pytest.mark.parametrize("text", [LONG_EN, LONG_ZH, "Supercalifragilisticexpialidociousandthensomemorewithoutspaces"])
@pytest.mark.parametrize("layout", ["single_image_text", "left_image", "grid"])
def test_long_copy_stays_inside_its_box(text, layout):
    composition = compose(_spec(layout=layout, headline=text, subline=text, cta="Start saving today with us"),
                          _photo(), (343, 160))
    for block in composition.blocks:
        assert block.fitted.lines, f"{block.name} drew nothing"
        left, top, right, bottom = block.box
        for ink in block.drawn:
            assert ink[0] >= left and ink[2] <= right, f"{block.name} overflows horizontally: {ink} vs {block.box}"
            assert ink[1] >= top - 2 and ink[3] <= bottom + 2, f"{block.name} overflows vertically: {ink} vs {block.box}"


def test_too_long_copy_is_shrunk_then_ellipsized():
    fitted = fit_text(LONG_EN, 200, 40, max_size=30, min_size=12, max_lines=2)
    assert fitted.truncated
    assert fitted.lines[-1].endswith("…")
    assert fitted.size == 12
    short = fit_text("Save", 200, 48, max_size=30, min_size=12)  # 30px type needs ~44px with its descender
    assert short.size == 30 and not short.truncated


def test_chinese_renders_real_glyphs_not_the_missing_glyph_box():
    font = load_font(40)
    missing = np.asarray(font.getmask("\ue000"))  # private-use code point: no glyph, draws .notdef
    for char in "理财红包":
        glyph = np.asarray(font.getmask(char))
        assert glyph.size and glyph.any(), f"{char} drew nothing"
        assert glyph.shape != missing.shape or not np.array_equal(glyph, missing), f"{char} drew the missing-glyph box"
    # two different characters give two different glyphs (a tofu font would draw the same box twice)
    assert not np.array_equal(np.asarray(font.getmask("理")), np.asarray(font.getmask("财")))


@pytest.mark.parametrize("background", [(250, 250, 245), (10, 10, 20), (128, 128, 128), (230, 60, 50)])
@pytest.mark.parametrize("layout", ["single_image_text", "left_image"])
def test_text_contrast_is_at_least_wcag_aa_on_light_mid_and_dark_images(background, layout):
    image = Image.new("RGB", (400, 300), background)
    # a busy image: stripes of light and dark under the text
    draw = ImageDraw.Draw(image)
    for x in range(0, 400, 40):
        draw.rectangle((x, 0, x + 19, 300), fill=(255 - background[0], 255 - background[1], 255 - background[2]))
    composition = compose(_spec(layout=layout, colors={"button": "#1F6FEB", "background": "#F6F2E8"}), image,
                          (750, 300))
    region = np.asarray(composition.background.crop(composition.text_region))
    assert worst_contrast(composition.text_color, region) >= MIN_CONTRAST


def test_dark_image_gets_light_text_and_light_image_dark_text():
    dark = compose(_spec(), Image.new("RGB", (100, 100), (15, 15, 25)), (750, 300))
    light = compose(_spec(), Image.new("RGB", (100, 100), (245, 245, 240)), (750, 300))
    assert dark.text_color == (255, 255, 255)
    assert light.text_color == (17, 17, 17)
    assert dark.scrim_alpha == 0 and light.scrim_alpha == 0
