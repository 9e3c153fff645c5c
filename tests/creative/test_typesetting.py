"""A designer reads the broken lines: no punctuation where kinsoku forbids it, whole words, no orphans,
balanced headlines, spaced mixed scripts, and an ellipsis only when nothing else fits (and then said)."""

import random

import pytest

from creative.composition import load_font
from creative.typesetting import (
    NO_LINE_END,
    NO_LINE_START,
    break_units,
    fit_units,
    line_violations,
    segment,
)

WORDS = ["稳健", "理财", "年化", "收益", "红包", "新人", "专享", "最高", "领取", "现金", "黄金", "储蓄", "随存随取",
         "手续费", "开通", "额外", "加息", "活动", "银行", "保障"]
MARKS = ["，", "。", "！", "？", "、", "：", "；"]


def _fit(text, width, *, lines=2, size=30, weight="bold", height=200):
    return fit_units(text, width, height, font_for=load_font, max_size=size, min_size=12, weight=weight,
                     max_lines=lines)


def _random_copy(rng):
    parts = []
    for _ in range(rng.randint(3, 9)):
        if rng.random() < 0.15:
            parts.append("「" + rng.choice(WORDS) + "」")
        else:
            parts.append(rng.choice(WORDS))
        if rng.random() < 0.35:
            parts.append(rng.choice(MARKS))
        if rng.random() < 0.15:
            parts.append(rng.choice(["4.5%", "88元", "3天", "VIP", "0.5%"]))
    return "".join(parts)


@pytest.mark.parametrize("seed", range(12))
def test_random_chinese_copy_never_breaks_kinsoku_or_words(seed):
    rng = random.Random(seed)
    for _ in range(15):
        text = _random_copy(rng)
        width = rng.choice([110, 150, 200, 260])
        fitted = _fit(text, width, lines=3, size=28)
        if fitted.notes:  # a last resort, reported (tested below)
            continue
        assert fitted.lines
        for number, line in enumerate(fitted.lines):
            if number:
                assert line[0] not in NO_LINE_START, (text, fitted.lines)
            if number < len(fitted.lines) - 1:
                assert line[-1] not in NO_LINE_END, (text, fitted.lines)
        assert line_violations(text, fitted.lines) == [], (text, fitted.lines)
        # nothing lost: the lines are the copy (plus the gaps put between scripts)
        assert "".join(fitted.lines).replace(" ", "") == text.replace(" ", "")


def test_a_word_like_red_packet_is_never_cut_in_two():
    text = "新人专享红包最高八十八元"
    for width in range(90, 330, 7):
        fitted = _fit(text, width, lines=3, size=26)
        if fitted.truncated or len(fitted.lines) < 2:
            continue
        joined = "|".join(fitted.lines)
        assert "红|包" not in joined and "新|人" not in joined and "专|享" not in joined, joined


def test_a_one_character_last_line_is_rebalanced():
    font = load_font(30, "bold")
    text = "今日已有1.2万人购买"
    width = font.getlength("今日已有1.2万人购") + 2  # greedy filling would leave "买" alone
    lines = break_units(segment(text), font, width, 2)
    assert lines is not None and len(lines) == 2
    assert len(lines[-1].strip()) > 2, lines
    assert line_violations(text, lines) == []


def test_two_line_headlines_are_balanced():
    font = load_font(30, "bold")
    text = "Gold Savings Plan with a bonus rate for new savers"
    width = font.getlength("Gold Savings Plan with a bonus rate for new") + 2
    lines = break_units(segment(text), font, width, 2, balance=True)
    widths = [font.getlength(line) for line in lines]
    assert len(lines) == 2 and min(widths) / max(widths) > 0.7, lines


def test_mixed_chinese_english_and_numbers_are_spaced_and_units_kept():
    assert [u.text for u in segment("年化4.5%收益")] == ["年", "化", "4.5%收益"] or \
        "".join(u.text + u.space_after for u in segment("年化4.5%收益")) == "年化 4.5%收益"
    assert "".join(u.text + u.space_after for u in segment("新人专享VIP红包")) == "新人专享 VIP 红包"
    # a number and its unit stay together and tight
    units = [u.text for u in segment("最高88元红包")]
    assert "88元" in units


def test_punctuation_glues_to_its_neighbour():
    units = [u.text for u in segment("稳健理财，「新人」红包！")]
    assert "理财，" in units and "「新人」" in units and "红包！" in units


def test_ellipsis_only_as_a_last_resort_and_reported():
    text = "稳健理财年化收益高达百分之四点五零手续费随存随取新人专享红包最高八十八元限时三天加息活动火热进行中"
    fitted = fit_units(text, 200, 60, font_for=load_font, max_size=24, min_size=14, max_lines=2)
    assert fitted.truncated and fitted.lines[-1].endswith("…")
    assert fitted.size == 14  # it shrank to the minimum before giving up
    assert any("ellipsized" in note for note in fitted.notes)
    short = fit_units("稳健理财", 200, 60, font_for=load_font, max_size=24, min_size=14, max_lines=2)
    assert not short.truncated and short.size == 24 and short.notes == []


def test_a_word_wider_than_the_box_is_split_and_reported():
    fitted = _fit("Supercalifragilisticexpialidocious", 90, lines=3, size=20)
    assert fitted.word_split and any("split" in note for note in fitted.notes)
    font = load_font(fitted.size, "bold")
    assert all(font.getlength(line) <= 90 for line in fitted.lines)


def test_the_checker_catches_each_rule_broken():
    assert line_violations("稳健理财，年化", ["稳健理财", "，年化"])[0].startswith("line 2 starts with")
    assert any("ends with" in p for p in line_violations("领「新人」红包", ["领「", "新人」红包"]))
    assert any("orphan" in p for p in line_violations("今日已有人购买", ["今日已有人购", "买"]))
    assert any("inside a word" in p for p in line_violations("新人专享红包", ["新人专享红", "包新"]))
    assert line_violations("稳健理财，年化收益", ["稳健理财，", "年化收益"]) == []
