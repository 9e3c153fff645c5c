"""The tags a layout template's own fields imply, so exclusion rules and features see them.

A layout says its button colour as a hex code, its kind, font scale, text position and background; the
taxonomy speaks of `button_color=red`, `layout=single` … This module names those fields in taxonomy words.
Only groups and values present in the taxonomy are produced. A group set by a person on the layout wins over
what the fields imply: one marked manual in `tag_sources`, or one given with no source at all (an import, a
script); a group the fields implied before (source "auto") follows the fields when they change.
"""

from __future__ import annotations

import colorsys

from .taxonomy import Tags, merge_tags

KIND_TO_LAYOUT = {"single_image_text": "single", "left_image": "left_image", "list": "list", "grid": "grid",
                  "text_only": "text_only"}
LARGE_FONT_SCALE = 1.15  # font_scale at or above this reads as "large"
IMPLIED_GROUPS = ("button_color", "layout", "font_scale", "text_position", "background")


def color_name(hex_color: str) -> str | None:
    """The taxonomy's name for a hex colour (#E8322E -> red), by lightness, saturation and hue."""
    text = (hex_color or "").strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        r, g, b = (int(text[i:i + 2], 16) / 255 for i in (0, 2, 4))
    except ValueError:
        return None
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    if lightness < 0.18:
        return "black"
    if lightness > 0.9 or (saturation < 0.15 and lightness > 0.6):
        return "white"
    if saturation < 0.15:
        return "gray"
    degrees = hue * 360
    for limit, name in ((15, "red"), (40, "orange"), (65, "gold"), (170, "green"), (255, "blue"),
                        (290, "purple"), (335, "pink")):
        if degrees < limit:
            return name
    return "red"


def layout_implied_tags(layout) -> Tags:
    """What the layout's fields say, limited to the taxonomy's groups and values."""
    from .models import TagValue

    wanted = {
        "button_color": color_name(layout.button_color),
        "layout": KIND_TO_LAYOUT.get(layout.kind),
        "font_scale": "large" if (layout.font_scale or 1.0) >= LARGE_FONT_SCALE else "regular",
        "text_position": layout.text_position,
        "background": layout.background_style,
    }
    known = set(TagValue.objects.filter(group__name__in=list(wanted)).values_list("group__name", "value"))
    return {group: [value] for group, value in wanted.items() if value and (group, value) in known}


def _manual_groups(layout) -> set[str]:
    sources = layout.tag_sources or {}
    return {g for g in (layout.tags or {}) if (sources.get(g) or {}).get("source", "manual") == "manual"}


def layout_effective_tags(layout) -> Tags:
    """The layout's tags as combination sees them: implied groups, unless the operator set them by hand."""
    manual = _manual_groups(layout)
    implied = {g: v for g, v in layout_implied_tags(layout).items() if g not in manual}
    own = {g: v for g, v in (layout.tags or {}).items() if g in manual or g not in implied}
    return merge_tags(own, implied)


def layout_autotag(layout) -> bool:
    """Store the implied tags on the layout (manual groups kept); True if its tags changed."""
    tags = layout_effective_tags(layout)
    if tags == (layout.tags or {}):
        return False
    manual, sources = _manual_groups(layout), dict(layout.tag_sources or {})
    for group in layout_implied_tags(layout):
        if group not in manual:
            sources[group] = {"source": "auto", "confidence": 1.0}
    layout.tags, layout.tag_sources = tags, sources
    layout.save(update_fields=["tags", "tag_sources"])
    return True

