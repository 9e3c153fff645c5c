"""Readable segments from user features: numeric features binned into bands, others as they are."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

# Age bands analysts expect; other numeric features get 1-2-5 bands unless binned on data.
AGE_EDGES = [18, 25, 35, 45, 55, 65]
_MAX_VALUE_LEN = 40
MAX_SEGMENT_KEY = 255


def _band_label(low: float | None, high: float | None, *, integer: bool | None = None) -> str:
    """A band's label with its real bounds. Integer features read as closed bands (18–24 holds 18 … 24);
    continuous ones as half-open bands that say so (0.5–<1.2 holds 0.5 up to, not including, 1.2), since
    "0.5–1" would hide whether 1.1 belongs. `integer=None` infers it from the edges (older callers)."""

    def fmt(x: float) -> str:
        return f"{int(x):,}" if float(x).is_integer() else f"{x:,g}"

    if low is None:
        return f"<{fmt(high)}"
    if high is None:
        return f"{fmt(low)}+"
    if integer is None:
        integer = float(low).is_integer() and float(high).is_integer()
    if integer:
        last = math.ceil(high) - 1
        return f"{fmt(math.ceil(low))}–{fmt(last)}" if last > math.ceil(low) else fmt(math.ceil(low))
    return f"{fmt(low)}–<{fmt(high)}"


def band_labels(edges: list[float], *, integer: bool | None = None) -> list[str]:
    """The labels of the len(edges) + 1 bands of sorted `edges`, lowest first."""
    return ([_band_label(None, edges[0], integer=integer)]
            + [_band_label(lo, hi, integer=integer) for lo, hi in zip(edges, edges[1:], strict=False)]
            + [_band_label(edges[-1], None, integer=integer)])


def band_for(value: float, edges: list[float], *, integer: bool | None = None) -> str:
    """The label of the band `value` falls in, for sorted band edges (low edge inclusive)."""
    return band_labels(edges, integer=integer)[bisect.bisect_right(edges, value)]


def band_order(label: str) -> float:
    """Sort key of a band label, so bands list in numeric order."""
    text = label.lstrip("<").replace(",", "").split("–")[0].rstrip("+")
    try:
        return float(text) - (0.5 if label.startswith("<") else 0.0)
    except ValueError:
        return math.inf


def default_edges(name: str, value: float) -> list[float]:
    if "age" in name.lower():
        return AGE_EDGES
    # 1-2-5 bands across magnitudes: stable edges without looking at the data.
    edges = [0.0]
    for exponent in range(0, 9):
        edges += [m * 10**exponent for m in (1, 2, 5)]
    return edges


def is_numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def segment_value(name: str, value: Any, edges: list[float] | None = None) -> str:
    """A readable value of one feature: a band for numbers, true/false for booleans, else the text."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_numeric(value):
        # An int is a count (closed integer bands); a float is continuous (half-open bands).
        return band_for(float(value), edges or default_edges(name, float(value)), integer=isinstance(value, int))
    return str(value)[:_MAX_VALUE_LEN]


def segment_key(features: Mapping[str, Any] | None, names: list[str] | None = None) -> str:
    """Canonical `name=value|name=value` of the chosen features (all of them when `names` is empty)."""
    if not features:
        return ""
    chosen = names or sorted(features)
    parts = []
    for name in chosen:
        if name in features:
            value = segment_value(name, features[name]).replace("|", "/").replace("=", ":")
            parts.append(f"{name}={value}")
    key = "|".join(parts)
    return key[:MAX_SEGMENT_KEY]


def parse_segment_key(key: str) -> dict[str, str]:
    if not key:
        return {}
    result = {}
    for part in key.split("|"):
        name, _, value = part.partition("=")
        result[name] = value
    return result


def segment_phrase(feature: str, value: str) -> str:
    """How a finding names a segment: "ages 18–24", "gender = f"."""
    if feature.lower() == "age":
        return f"ages {value}"
    if value[:1].isdigit() or value.startswith("<"):
        return f"{feature} {value}"
    return f"{feature} = {value}"
