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


# ---------------------------------------------------------------- templates, contrast, art, scale

from creative.composition import (  # noqa: E402
    MAX_ART_UPSCALE,
    color_contrast,
    hex_to_rgb,
    is_large_text,
    resolve_button_color,
)
from creative.layout_specs import layout_template  # noqa: E402

DEFAULT_RED = "#E8322E"


@pytest.mark.parametrize("layout", ["single_image_text", "left_image", "list", "grid", "text_only"])
@pytest.mark.parametrize("size", [(750, 300), (343, 160)])
def test_the_default_red_button_gets_cta_text_at_4_5_to_1(layout, size):
    assert color_contrast(hex_to_rgb(DEFAULT_RED), (255, 255, 255)) < MIN_CONTRAST  # white on it is 4.43:1
    composition = compose(_spec(layout=layout, colors={"button": DEFAULT_RED, "background": "#F6F2E8"}),
                          _photo(), size)
    cta = next(b for b in composition.blocks if b.name == "cta")
    assert color_contrast(cta.color, composition.button.used) >= MIN_CONTRAST
    assert composition.checks["contrast"]["cta"]["ratio"] >= MIN_CONTRAST
    assert 0 < composition.button.delta_e <= 6.0  # moved, but only a little
    assert composition.refused == "" and composition.violations == []
    # the button drawn has the adjusted colour
    x0, y0, x1, y1 = composition.button_box
    assert composition.image.getpixel(((x0 + x1) // 2, y0 + 2)) == composition.button.used


def test_a_brand_colour_beyond_the_tolerance_is_refused_with_the_reason():
    check = resolve_button_color(hex_to_rgb(DEFAULT_RED), tolerance=0.3)
    assert check.refused and "4.5" in check.refused and "ΔE" in check.refused
    assert check.used == check.requested  # never silently changed beyond what the operator allowed
    composition = compose(_spec(colors={"button": DEFAULT_RED}, color_tolerance=0.3), _photo(), (750, 300))
    assert "below 4.5:1" in composition.refused
    assert any("cta: contrast" in v for v in composition.violations)
    for colour in ("#1F6FEB", "#C9A227", "#1E9E5A", "#FFD400", "#222222", "#FF8800"):
        fine = resolve_button_color(hex_to_rgb(colour))
        assert not fine.refused and color_contrast(fine.used, fine.text) >= MIN_CONTRAST, colour


def test_large_text_rule_applies_only_to_big_or_big_bold_type():
    # placement pixels are @2x device pixels: 18.66 CSS px bold is 37.3 px on the placement
    assert is_large_text(38, "bold") and not is_large_text(36, "bold")
    assert is_large_text(48, "regular") and not is_large_text(40, "regular")
    assert is_large_text(76, "bold", scale=2) and not is_large_text(70, "bold", scale=2)


def _solid(color, size=(800, 800)):
    return Image.new("RGB", size, color)


def test_grid_shows_several_products_each_its_own_image():
    colours = [(200, 30, 30), (30, 160, 60), (30, 60, 200), (220, 180, 20)]
    composition = compose(_spec(layout="grid"), _solid(colours[0]), (750, 300),
                          cells=[_solid(c) for c in colours[1:]])
    assert composition.checks["grid_products"] == 4
    grid_box = layout_template(kind="grid")["grid"]["box"]
    x0 = int(grid_box[0] * 750)
    found = {composition.image.getpixel((x, y)) for x in range(x0, 750, 5) for y in range(0, 300, 5)}
    assert all(c in found for c in colours), "every product image appears in the grid"
    two = compose(_spec(layout="grid"), _solid(colours[0]), (750, 300), cells=[_solid(colours[1])])
    assert two.checks["grid_products"] == 2


def test_full_bleed_backdrop_is_a_soft_gradient_not_a_hard_box():
    composition = compose(_spec(), _solid((235, 235, 230), (1500, 600)), (750, 300))
    assert composition.scrim_alpha == 0  # light art: dark text needs no backdrop
    # busy art under the copy (light and dark stripes: neither text colour reads on it), plain art beyond
    busy = Image.new("RGB", (1500, 600), (200, 200, 200))
    for x in range(0, 840, 80):
        ImageDraw.Draw(busy).rectangle((x, 0, x + 39, 600), fill=(30, 30, 40))
    composition = compose(_spec(), busy, (750, 300))
    assert composition.scrim_alpha > 0
    row = np.asarray(composition.background)[150, 430:].astype(int)  # the plain part, where the tint fades
    assert np.abs(np.diff(row, axis=0)).max() <= 3, "the backdrop ends in a hard edge"
    assert row[0].sum() < row[-1].sum() - 30, "the tint fades out gradually over the art"
    # the CTA sits wholly inside the area the backdrop makes readable
    x0, y0, x1, y1 = composition.button_box
    tx0, ty0, tx1, ty1 = composition.text_region
    assert tx0 <= x0 and x1 <= tx1 and ty0 <= y0 and y1 <= ty1
    region = np.asarray(composition.background.crop(composition.text_region))
    assert worst_contrast(composition.text_color, region) >= MIN_CONTRAST


def test_art_is_never_enlarged_beyond_the_stated_factor():
    small = compose(_spec(), _photo().resize((300, 120)), (750, 300))
    assert small.art_limited and small.art_upscale > MAX_ART_UPSCALE
    assert any("×1.25" in note for note in small.checks["notes"])
    big = compose(_spec(), _photo().resize((1000, 400)), (750, 300))
    assert not big.art_limited and big.art_upscale <= 1


def test_two_x_is_drawn_from_the_vector_font_at_twice_the_size():
    one = compose(_spec(layout="left_image"), _photo().resize((1600, 1200)), (343, 160))
    two = compose(_spec(layout="left_image"), _photo().resize((1600, 1200)), (343, 160), scale=2)
    assert two.image.size == (686, 320)
    for a, b in zip(one.blocks, two.blocks, strict=True):
        assert a.fitted.lines == b.fitted.lines
        assert abs(b.fitted.size - 2 * a.fitted.size) <= 2
    # sharper, not blown up: fewer half-tone pixels on the glyph edges than the 1x image enlarged
    box = two.blocks[0].drawn[0]

    def half_tones(image):
        grey = np.asarray(image.convert("L").crop(box)).astype(int)
        return ((grey > 40) & (grey < 215)).mean()

    assert half_tones(two.image) < half_tones(one.image.resize((686, 320), Image.Resampling.BICUBIC))


def test_text_only_and_product_card_templates_render_their_copy():
    for layout in ("text_only", "list"):
        composition = compose(_spec(layout=layout, headline="新人专享红包 最高88元", subline="首次存入即可领取现金红包",
                                    cta="领红包"), _photo(), (343, 160))
        assert composition.template == layout_template(kind=layout)["name"]
        assert [b.name for b in composition.blocks] == ["headline", "subline", "cta"]
        assert composition.violations == []


@pytest.mark.parametrize("size", [(40, 20), (1, 1), (1000, 60), (100, 400), (2000, 100)])
@pytest.mark.parametrize("layout", ["single_image_text", "left_image", "list", "grid", "text_only"])
def test_odd_and_tiny_placement_sizes_render_without_failing(size, layout):
    for position in ("left", "right", "bottom"):
        composition = compose(_spec(layout=layout, text_position=position), _photo(), size, cells=[_photo()])
        assert composition.image.size == size
        if composition.button_box is None:
            assert any("no room for the button" in n for n in composition.checks["notes"])
