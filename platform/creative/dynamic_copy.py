"""Copy that states live numbers only when they are true: placeholders, per-locale formatting, floors, fallback.

A copy line may hold placeholders and a static fallback after " || ":

    今日已有{conversions_24h|floor=1000}人购买 || 大家都在选的黄金储蓄
    {context.savers|floor=500} savers joined this week || Savers like you choose Gold Savings

A placeholder names a value: one of Kaleido's own counts for the placement's offer (`conversions_24h`), or
`context.<key>`, a value the BFF passes in the rank request's `context`. It is shown rounded *down* (never
overstated) in the copy's language: 12,345 is "12,000" in English and "1.2万" in Chinese. Below its floor
(the line's `floor=`, else DEFAULT_FLOOR), or when the value is missing, the whole line falls back to its
static text. The PNG is always drawn with the static text; `render["dynamic"]` carries the template so the
front end (or a re-render cached by `display_key`) draws the filled line, and `filled` returns the values it
showed, to be stored with the decision.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*(?:\.[A-Za-z0-9_]+)?)(?:\|floor=(\d+))?\}")
FALLBACK_SEPARATOR = " || "
DEFAULT_FLOOR = 100  # a count below this reads as weak social proof; the static line is shown instead
OWN_COUNTS = ("conversions_24h",)


def split_line(line: str) -> tuple[str, str]:
    """(dynamic template, static fallback); a line without placeholders is its own fallback."""
    text = line or ""
    if FALLBACK_SEPARATOR in text:
        template, fallback = text.split(FALLBACK_SEPARATOR, 1)
        return template.strip(), fallback.strip()
    return text, "" if PLACEHOLDER.search(text) else text


def static_text(line: str) -> str:
    """What a PNG draws: the fallback of a dynamic line, the line itself otherwise."""
    return split_line(line)[1]


def line_errors(line: str) -> list[str]:
    """Why a copy line's dynamic part is unusable (for the copy form and imports)."""
    template, fallback = split_line(line)
    errors = []
    names = [m.group(1) for m in PLACEHOLDER.finditer(template)]
    if names and not fallback:
        errors.append("a line with a placeholder needs a static fallback after “ || ”")
    for name in names:
        if name not in OWN_COUNTS and not name.startswith("context."):
            errors.append(f"unknown placeholder {{{name}}}: use {', '.join(OWN_COUNTS)} or context.<key>")
    if "{" in PLACEHOLDER.sub("", template) or "}" in PLACEHOLDER.sub("", template):
        errors.append("a placeholder is written {name} or {name|floor=1000}")
    return errors


def _floor_significant(value: float, digits: int = 2) -> int:
    if value < 10 ** digits:
        return int(value)
    step = 10 ** (int(math.log10(value)) + 1 - digits)
    return int(value // step * step)


def format_count(value: float, language: str) -> str:
    """A count rounded down to two significant figures, written the way the language writes it."""
    n = _floor_significant(max(0.0, float(value)))
    if language.startswith("zh"):
        for unit, size in (("亿", 10 ** 8), ("万", 10 ** 4)):
            if n >= size:
                whole = math.floor(n / size * 10) / 10
                return f"{whole:.1f}".rstrip("0").rstrip(".") + unit
        return str(n)
    return f"{n:,}"


@dataclass
class FilledLine:
    text: str  # what to show
    dynamic: bool  # False: the static fallback is shown
    shown: dict[str, str] = field(default_factory=dict)  # placeholder -> the formatted value shown


def fill_line(line: str, values: dict[str, float], language: str) -> FilledLine:
    """The line with its placeholders filled, or its fallback when a value is missing or under its floor."""
    template, fallback = split_line(line)
    matches = list(PLACEHOLDER.finditer(template))
    if not matches:
        return FilledLine(template, False)
    shown: dict[str, str] = {}
    for match in matches:
        name, floor = match.group(1), int(match.group(2) or DEFAULT_FLOOR)
        value = values.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < floor:
            return FilledLine(fallback, False)
        shown[name] = format_count(value, language)
    text = PLACEHOLDER.sub(lambda m: shown[m.group(1)], template)
    return FilledLine(text, True, shown)


def dynamic_spec(lines: dict[str, str]) -> dict[str, dict]:
    """The `render["dynamic"]` entry for the lines that have placeholders: template, fallback, names."""
    out = {}
    for name, line in lines.items():
        template, fallback = split_line(line)
        names = [m.group(1) for m in PLACEHOLDER.finditer(template)]
        if names:
            out[name] = {"template": template, "fallback": fallback, "placeholders": names}
    return out


def display_key(lines: dict[str, str], values: dict[str, float], language: str) -> tuple:
    """What a re-render is cached by: the text each line would show (so 12,345 and 12,399 share one PNG)."""
    return tuple((name, fill_line(line, values, language).text) for name, line in sorted(lines.items()))
