"""Social proof only when the numbers say so: live values formatted per locale, rounded down, with a floor
below which the static line shows, and the value that was shown reported."""

import pytest
from PIL import Image

from creative.composition import compose, render_spec_for
from creative.dynamic_copy import display_key, fill_line, format_count, line_errors, static_text
from tests.factories import CopyVariantFactory, CreativeKitFactory, LayoutTemplateFactory, StyleVariantFactory

ZH = "今日已有{conversions_24h|floor=1000}人购买 || 大家都在选的黄金储蓄"
EN = "{context.savers|floor=500} savers joined this week || Savers like you choose Gold Savings"


@pytest.mark.parametrize(("value", "en", "zh"), [
    (12_000, "12,000", "1.2万"), (12_399, "12,000", "1.2万"), (19_999, "19,000", "1.9万"), (10_000, "10,000", "1万"),
    (8_765, "8,700", "8700"), (999, "990", "990"), (42, "42", "42"), (123_456_789, "120,000,000", "1.2亿"),
])
def test_counts_are_rounded_down_and_written_per_locale(value, en, zh):
    assert format_count(value, "en") == en
    assert format_count(value, "zh") == zh
    # never overstated
    assert int(format_count(value, "en").replace(",", "")) <= value


def test_a_value_under_its_floor_or_missing_shows_the_static_line():
    assert fill_line(ZH, {"conversions_24h": 12_345}, "zh").text == "今日已有1.2万人购买"
    shown = fill_line(ZH, {"conversions_24h": 12_345}, "zh")
    assert shown.dynamic and shown.shown == {"conversions_24h": "1.2万"}
    for values in ({"conversions_24h": 999}, {}, {"conversions_24h": float("nan")}, {"conversions_24h": "many"}):
        fallback = fill_line(ZH, values, "zh")
        assert fallback.text == "大家都在选的黄金储蓄" and not fallback.dynamic and fallback.shown == {}
    assert fill_line(EN, {"context.savers": 640}, "en").text == "640 savers joined this week"
    assert fill_line(EN, {"context.savers": 120}, "en").text == "Savers like you choose Gold Savings"


def test_lines_without_a_fallback_or_with_unknown_names_are_refused():
    assert line_errors(ZH) == [] and line_errors("Plain copy") == []
    assert any("fallback" in e for e in line_errors("{conversions_24h} people bought today"))
    assert any("unknown placeholder" in e for e in line_errors("{visitors} came || Come too"))
    assert static_text(ZH) == "大家都在选的黄金储蓄" and static_text("Plain") == "Plain"


def test_re_renders_are_cached_by_what_is_displayed():
    lines = {"headline": ZH}
    assert display_key(lines, {"conversions_24h": 12_345}, "zh") == display_key(lines, {"conversions_24h": 12_399},
                                                                                "zh")
    assert display_key(lines, {"conversions_24h": 12_345}, "zh") != display_key(lines, {"conversions_24h": 13_001},
                                                                                "zh")


@pytest.mark.django_db
def test_the_png_never_states_the_number_and_render_carries_the_template():
    kit = CreativeKitFactory(placement__width=750, placement__height=300)
    copy = CopyVariantFactory(kit=kit, headline=ZH, subline="看看大家为什么选择黄金储蓄", cta="一起加入", language="zh")
    variant = StyleVariantFactory(placement=kit.placement, kit=kit, copy=copy, layout=LayoutTemplateFactory(kit=kit))
    spec = render_spec_for(variant)
    assert spec["headline"] == "大家都在选的黄金储蓄"
    assert spec["dynamic"]["headline"] == {"template": "今日已有{conversions_24h|floor=1000}人购买",
                                           "fallback": "大家都在选的黄金储蓄", "placeholders": ["conversions_24h"]}
    art = Image.new("RGB", (800, 320), (30, 60, 90))
    static = compose(spec, art, (750, 300))
    assert "".join(static.blocks[0].fitted.lines) == "大家都在选的黄金储蓄"
    live = compose(spec, art, (750, 300), values={"conversions_24h": 12_345})
    assert "".join(live.blocks[0].fitted.lines).replace(" ", "") == "今日已有1.2万人购买"
    assert live.violations == []


@pytest.mark.django_db
def test_an_operator_saving_a_live_number_without_its_fallback_is_told_which_field_and_why():
    from django.core.exceptions import ValidationError

    copy = CopyVariantFactory.build(kit=CreativeKitFactory(), headline="今日已有{conversions_24h}人购买",
                                    subline="{signups_today} joined", cta="Join")
    with pytest.raises(ValidationError) as raised:
        copy.full_clean()
    assert "static fallback" in " ".join(raised.value.message_dict["headline"])
    assert "unknown placeholder {signups_today}" in " ".join(raised.value.message_dict["subline"])
    assert "cta" not in raised.value.message_dict
    copy.headline = ZH
    copy.subline = EN
    copy.full_clean()  # a filled template with its fallback is fine


@pytest.mark.django_db
def test_a_copy_import_names_the_line_of_a_broken_placeholder_and_stores_nothing():
    from django.core.exceptions import ValidationError

    from creative.models import CopyVariant
    from creative.services.copy_io import copies_import

    kit = CreativeKitFactory()
    csv = ("headline,subline,cta,language\r\n"
           f"{ZH},,去看看,zh\r\n"
           "{conversions_24h} people bought today,,Buy,en\r\n").encode()
    with pytest.raises(ValidationError) as raised:
        copies_import(kit=kit, data=csv, filename="copy.csv")
    assert any("line 3, column headline" in m and "static fallback" in m for m in raised.value.messages)
    assert not CopyVariant.objects.filter(kit=kit).exists()
