"""Line breaking for banner copy: Chinese, English and numbers mixed, with the rules a designer checks.

The engine works in three steps:

1. **Segment** the copy into unbreakable units. Latin words and numbers stay whole ("4.5%"), Chinese runs are
   cut into words by jieba's dictionary (so 红包 never becomes 红/包), and kinsoku glues punctuation to its
   neighbour: a character that may not start a line ("，" "。" "！" "%" …) sticks to the unit before it, one
   that may not end a line ("「" "（" "《" …) to the unit after it. Between Chinese and Latin letters or
   digits a space is put (the usual quarter-em gap of mixed typesetting); a number and the unit after it
   ("88元", "3天") are kept together and set tight.
2. **Break** with a small dynamic programme over those units (Knuth–Plass style): the fewest lines that fit,
   then the least raggedness, every line counted for balanced headlines. A last line of one or two
   characters (an orphan) is not allowed while another break exists.
3. **Fit**: the largest type size, from the template's size down to its minimum, at which the copy breaks
   into the lines the box allows. Only when nothing fits at the minimum size is the copy ellipsized, and a
   single word wider than the box split; both are reported, never silent.

Widths come from Pillow's FreeType/HarfBuzz (libraqm) shaping of the real font, so they match what is drawn.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import ImageFont

# Kinsoku shori (line-start and line-end prohibitions), after JIS X 4051 / W3C clreq, Chinese and Latin.
NO_LINE_START = set("，。、．！？；：）〕］｝〉》」』】〙〗〟’”｠»…‥〜～・·ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"
                    ",.!?;:)]}%％‰℃°")
NO_LINE_END = set("（〔［｛〈《「『【〘〖〝‘“｟«([{￥$＄£€#＃")
ELLIPSIS = "…"
ORPHAN_MAX_CHARS = 2  # a last line this short (visible characters) is an orphan


def is_han(ch: str) -> bool:
    """An ideograph or kana: the characters between which Chinese and Japanese may break."""
    code = ord(ch)
    return (0x3400 <= code <= 0x9FFF) or (0xF900 <= code <= 0xFAFF) or (0x3040 <= code <= 0x30FF) or (
        0x20000 <= code <= 0x2FFFF)


def _is_latin_or_digit(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=4096)
def _han_words(run: str) -> tuple[str, ...]:
    """Dictionary words of a run of Chinese characters (jieba, no HMM guessing: stable results)."""
    return tuple(w for w in _jieba().cut(run, HMM=False) if w)


@dataclass(frozen=True)
class Unit:
    """An unbreakable piece of copy and what follows it: a space ("" if none) and whether a line may end there."""

    text: str
    space_after: str
    breakable: bool


def _raw_pieces(text: str) -> list[str]:
    """Words, numbers, Chinese words, single punctuation characters and single spaces, in order."""
    pieces: list[str] = []
    for match in re.finditer(r"\s+|[A-Za-z0-9][A-Za-z0-9.,'’%+\-/:]*[A-Za-z0-9%]|[A-Za-z0-9]|.", text):
        piece = match.group(0)
        if piece.isspace():
            pieces.append(" ")
        elif len(piece) == 1 and is_han(piece):
            if pieces and pieces[-1] and all(is_han(c) for c in pieces[-1]):
                pieces[-1] += piece
            else:
                pieces.append(piece)
        else:
            pieces.append(piece)
    out: list[str] = []
    for piece in pieces:
        if piece and all(is_han(c) for c in piece):
            out.extend(_han_words(piece))
        else:
            out.append(piece)
    return out


def segment(text: str) -> list[Unit]:
    """The copy as unbreakable units with the breaks allowed between them (see the module's rules)."""
    pieces = _raw_pieces(" ".join((text or "").split()))
    units: list[list] = []  # [text, space_after, breakable]
    for piece in pieces:
        if piece == " ":
            if units:
                units[-1][1], units[-1][2] = " ", True
            continue
        if units:
            prev = units[-1]
            first, last = piece[0], prev[0][-1]
            if first in NO_LINE_START or last in NO_LINE_END or (last in "-/" and not prev[1]):
                # kinsoku: never break before a closing mark or after an opening one
                if prev[1]:
                    prev[0] += prev[1]
                prev[0] += piece
                prev[1], prev[2] = "", False
                continue
            if not prev[1]:
                mixed = (is_han(last) and _is_latin_or_digit(first)) or (_is_latin_or_digit(last) and is_han(first))
                if mixed and last.isdigit():
                    # a number and the unit after it ("88元", "1.2万") stay together, set tight
                    prev[0] += piece
                    prev[2] = False
                    continue
                if mixed:
                    # Chinese next to Latin letters or digits gets a gap (a space, about a quarter em)
                    prev[1], prev[2] = " ", True
                else:
                    prev[2] = is_han(last) or is_han(first) or not (last.isascii() and first.isascii())
        units.append([piece, "", False])
    if units:
        units[-1][1], units[-1][2] = "", True
    return [Unit(t, s, b) for t, s, b in units]


def _visible_chars(line: str) -> int:
    return sum(1 for ch in line if not ch.isspace() and ch != ELLIPSIS)


@lru_cache(maxsize=65536)
def _length(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def break_units(units: list[Unit], font: ImageFont.FreeTypeFont, max_width: float, max_lines: int,
                *, balance: bool = True, allow_orphan: bool = False) -> list[str] | None:
    """The best breaking of `units` into at most max_lines lines no wider than max_width, or None.

    Fewest lines first, then the smallest sum of squared free space (all lines when balancing, all but the
    last otherwise); a multi-line result never ends on an orphan unless `allow_orphan` (the fitter's last
    resort, at the smallest size).
    """
    n = len(units)
    if n == 0:
        return []
    widths = [_length(font, u.text) for u in units]
    spaces = [_length(font, u.space_after) if u.space_after else 0.0 for u in units]
    if max(widths) > max_width:
        return None
    prefix = [0.0]
    for w, s in zip(widths, spaces, strict=True):
        prefix.append(prefix[-1] + w + s)

    def line_width(i: int, j: int) -> float:  # units i..j-1 on one line, the trailing space dropped
        return prefix[j] - prefix[i] - spaces[j - 1]

    def text_of(i: int, j: int) -> str:
        return "".join(u.text + (u.space_after if k < j - 1 else "") for k, u in enumerate(units[i:j], start=i))

    inf = float("inf")
    ends = [j for j in range(1, n + 1) if units[j - 1].breakable or j == n]
    for orphans_ok in ((False, True) if allow_orphan else (False,)):
        # best[k][j]: (cost, previous break) of k lines covering units[:j]
        best: list[dict[int, tuple[float, int]]] = [{0: (0.0, -1)}]
        for k in range(1, max_lines + 1):
            row: dict[int, tuple[float, int]] = {}
            for j in ends:
                for i, (cost_i, _) in best[k - 1].items():
                    if i >= j:
                        continue
                    w = line_width(i, j)
                    if w > max_width:
                        continue
                    last = j == n
                    if last and k > 1 and not orphans_ok and _visible_chars(text_of(i, j)) <= ORPHAN_MAX_CHARS:
                        continue
                    slack = (max_width - w) / max_width
                    cost = cost_i + (slack * slack if (balance or not last) else 0.0)
                    if cost < row.get(j, (inf, 0))[0]:
                        row[j] = (cost, i)
            best.append(row)
            if n in row:
                lines, j = [], n
                for kk in range(k, 0, -1):
                    i = best[kk][j][1]
                    lines.append(text_of(i, j))
                    j = i
                return lines[::-1]
    return None


@dataclass
class FittedText:
    lines: list[str]
    size: int
    line_height: int
    truncated: bool  # ellipsized: the copy did not fit at the smallest size
    weight: str
    word_split: bool = False  # a word wider than the box had to be split
    notes: list[str] = field(default_factory=list)
    glyph_height: int = 0  # ascent + descent of the font: the last line's full height

    @property
    def height(self) -> int:
        if not self.lines:
            return 0
        return self.line_height * (len(self.lines) - 1) + max(self.glyph_height, self.line_height)


def _greedy(units: list[Unit], font: ImageFont.FreeTypeFont, max_width: float) -> list[list[Unit]]:
    lines: list[list[Unit]] = [[]]
    for unit in units:
        trial = lines[-1] + [unit]
        if lines[-1] and _length(font, _join(trial)) > max_width and lines[-1][-1].breakable:
            lines.append([unit])
        else:
            lines[-1] = trial
    return lines


def _join(units: list[Unit]) -> str:
    return "".join(u.text + (u.space_after if k < len(units) - 1 else "") for k, u in enumerate(units))


def _split_wide_words(units: list[Unit], font: ImageFont.FreeTypeFont, max_width: float) -> list[Unit]:
    """Last resort: a unit wider than the box is cut into pieces that fit (reported as word_split)."""
    out: list[Unit] = []
    for unit in units:
        if _length(font, unit.text) <= max_width:
            out.append(unit)
            continue
        rest = unit.text
        while rest:
            cut = len(rest)
            while cut > 1 and _length(font, rest[:cut]) > max_width:
                cut -= 1
            piece, rest = rest[:cut], rest[cut:]
            out.append(Unit(piece, unit.space_after if not rest else "", True if rest else unit.breakable))
    return out


def _ellipsize(units: list[Unit], font: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Fill max_lines greedily and end the last with "…", cut at a unit boundary where one fits."""
    lines = _greedy(units, font, max_width)
    kept = [_join(line) for line in lines[:max_lines - 1]]
    last = [u for line in lines[max_lines - 1:] for u in line]
    while len(last) > 1 and _length(font, _join(last).rstrip() + ELLIPSIS) > max_width:
        last = last[:-1]
    text = _join(last).rstrip()
    while text and _length(font, text + ELLIPSIS) > max_width:
        text = text[:-1]
    return kept + [text.rstrip() + ELLIPSIS]


def fit_units(text: str, box_w: float, box_h: float, *, font_for, max_size: int, min_size: int,
              weight: str = "regular", max_lines: int = 3, leading: float = 1.25,
              balance: bool = True) -> FittedText:
    """The largest size at which `text` breaks inside box_w × box_h; see the module docstring."""
    min_size = max(6, min(int(min_size), int(max_size)))
    units = segment(text)
    size = max(min_size, int(max_size))

    def metrics(font: ImageFont.FreeTypeFont) -> tuple[int, int, int]:
        ascent, descent = font.getmetrics()
        line_height = max(1, round(size * leading))
        glyph = max(line_height, ascent + descent)
        return line_height, glyph, int((box_h - glyph) // line_height) + 1 if box_h >= glyph else 0

    while True:
        font = font_for(size, weight)
        line_height, glyph, fits = metrics(font)
        lines_allowed = min(max_lines, fits)
        if not units:
            return FittedText([], size, line_height, False, weight, glyph_height=glyph)
        if lines_allowed >= 1:
            lines = break_units(units, font, box_w, lines_allowed, balance=balance)
            if lines is not None and all(_length(font, line) <= box_w for line in lines):
                return FittedText(lines, size, line_height, False, weight, glyph_height=glyph)
        if size <= min_size:
            break
        size = max(min_size, int(size * 0.92))
    # last resorts, reported: split words wider than the box, then ellipsize
    font = font_for(size, weight)
    line_height, glyph, fits = metrics(font)
    lines_allowed = max(1, min(max_lines, fits))
    split = _split_wide_words(units, font, box_w)
    fitted = FittedText([], size, line_height, False, weight, word_split=len(split) != len(units),
                        glyph_height=glyph)
    lines = break_units(split, font, box_w, lines_allowed, balance=balance, allow_orphan=True)
    if lines is not None and len(lines) > 1 and _visible_chars(lines[-1]) <= ORPHAN_MAX_CHARS:
        fitted.notes.append(f"orphan kept: “{lines[-1].strip()}” (no other break fits at {size}px)")
    if lines is None:
        lines, fitted.truncated = _ellipsize(split, font, box_w, lines_allowed), True
    fitted.lines = lines
    if fitted.word_split:
        fitted.notes.append("a word wider than the box was split")
    if fitted.truncated:
        fitted.notes.append(f"copy ellipsized: it does not fit in {lines_allowed} line(s) at {size}px")
    return fitted


def line_violations(text: str, lines: list[str], *, truncated: bool = False, word_split: bool = False) -> list[str]:
    """Typesetting rules a set of lines breaks: kinsoku, words split, orphans. Empty when all hold."""
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if number > 1 and stripped[0] in NO_LINE_START:
            problems.append(f"line {number} starts with “{stripped[0]}”")
        if number < len(lines) and stripped[-1] in NO_LINE_END:
            problems.append(f"line {number} ends with “{stripped[-1]}”")
    if len(lines) > 1 and not truncated and _visible_chars(lines[-1]) <= ORPHAN_MAX_CHARS:
        problems.append(f"orphan: the last line is “{lines[-1].strip()}”")
    if not word_split and len(lines) > 1:
        # every line end must be a break the segmentation allows (so no word is cut in two)
        allowed: set[int] = set()
        position = 0
        for unit in segment(text):
            position += len(unit.text.replace(" ", ""))
            if unit.breakable:
                allowed.add(position)
        position = 0
        for number, line in enumerate(lines[:-1], start=1):
            position += len(line.replace(" ", "").replace(ELLIPSIS, ""))
            if position not in allowed:
                problems.append(f"line {number} breaks inside a word (“{line.strip()[-2:]}”)")
    return problems
