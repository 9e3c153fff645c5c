"""Live numbers in served copy: fill each ranked variant's dynamic lines (creative.dynamic_copy) at rank time.

Values: `conversions_24h`, the placement's conversions in the last day from the hourly counts ingestion keeps
(counters), read at most every LIVE_COUNT_CACHE_S per process and placement, so a rank call never counts
events; and `context.<key>`, a number the BFF sent in the rank request's `context`. A value that is not a
plain non-negative number (text, a boolean, above MAX_CONTEXT_VALUE) is left out, so its line falls back to
its static text, as a line under its floor does.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from counters.services import conversions_in_last_day
from creative.dynamic_copy import fill_line

LIVE_COUNT_CACHE_S = 30.0  # how stale a served count may be; one small indexed read per process and placement
MAX_CONTEXT_VALUE = 10 ** 12  # beyond any real count: a value above it is a mistake, not a claim to print
_NUMBER = re.compile(r"\d{1,15}(?:\.\d{1,6})?")
COPY_LINES = ("headline", "subline", "cta")

_counts: dict[int, tuple[float, int]] = {}  # placement id -> (monotonic time read, conversions in the last day)
_counts_lock = threading.Lock()


def conversions_24h(placement_id: int) -> int:
    """The placement's conversions in the last day, as read at most LIVE_COUNT_CACHE_S ago by this process."""
    cached = _counts.get(placement_id)
    now = time.monotonic()
    if cached is not None and now - cached[0] < LIVE_COUNT_CACHE_S:
        return cached[1]
    count = conversions_in_last_day(placement_id, now=timezone.now())
    with _counts_lock:
        _counts[placement_id] = (now, count)
    return count


def forget_counts() -> None:
    """Drop this process's cached counts (the next rank call reads them again)."""
    with _counts_lock:
        _counts.clear()


def context_number(value: Any) -> float | None:
    """A context value usable as a number in copy: a finite non-negative number up to MAX_CONTEXT_VALUE, or
    a string of digits (BFFs often send counts as text); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            return None
        value = float(text)
    if isinstance(value, int):
        return float(value) if 0 <= value <= MAX_CONTEXT_VALUE else None
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= MAX_CONTEXT_VALUE:
        return value
    return None


@dataclass(frozen=True)
class FilledCopy:
    render: dict[str, Any]  # the render spec to answer: each dynamic line as displayed, and `filled`
    shown: dict[str, dict[str, Any]]  # line -> {"text", "shown", "values"} for the lines shown with live values


def values_for(render: dict[str, Any], placement_id: int, context: dict[str, Any]) -> dict[str, float]:
    """The values the render's placeholders name, those that are known and usable."""
    names = {name for entry in (render.get("dynamic") or {}).values() for name in entry.get("placeholders", ())}
    values: dict[str, float] = {}
    for name in names:
        if name == "conversions_24h":
            values[name] = float(conversions_24h(placement_id))
        elif name.startswith("context."):
            number = context_number(context.get(name.removeprefix("context.")))
            if number is not None:
                values[name] = number
    return values


def fill_render(render: dict[str, Any], placement_id: int, context: dict[str, Any]) -> FilledCopy | None:
    """The render spec with its dynamic lines filled for this request; None when it has none (serve it as is).

    Each dynamic line is answered as it is to be displayed (filled, or its static fallback) in the spec's
    own field, so a client that draws `headline` shows the right text; `filled` names the lines shown with
    live values and what they claimed.
    """
    dynamic = render.get("dynamic")
    if not dynamic:
        return None
    language = str(render.get("language") or "en")
    values = values_for(render, placement_id, context)
    out = dict(render)
    shown: dict[str, dict[str, Any]] = {}
    for line in COPY_LINES:
        entry = dynamic.get(line)
        if not isinstance(entry, dict) or "template" not in entry:
            continue
        filled = fill_line(f"{entry['template']} || {entry.get('fallback', '')}", values, language)
        out[line] = filled.text
        if filled.dynamic:
            shown[line] = {"text": filled.text, "shown": filled.shown,
                           "values": {name: _plain(values[name]) for name in filled.shown}}
    out["filled"] = shown
    return FilledCopy(out, shown)


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
