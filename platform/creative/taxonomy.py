"""The default semantic UI tag taxonomy and tag validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError

Tags = dict[str, list[str]]

# (layer, group, multi_valued, description, values)
DEFAULT_TAXONOMY: list[tuple[str, str, bool, str, list[str]]] = [
    ("presentation", "visual_style", False, "Rendering style of the image",
     ["photo", "flat", "3d", "illustration"]),
    ("presentation", "color_tone", False, "Colourfulness of the whole creative", ["vivid", "muted"]),
    ("presentation", "dominant_color", False, "Most prominent hue",
     ["red", "orange", "gold", "green", "blue", "purple", "pink", "black", "white", "gray"]),
    ("presentation", "brightness", False, "Overall lightness", ["light", "dark"]),
    ("presentation", "font_scale", False, "Relative headline size", ["large", "regular"]),
    ("presentation", "button_color", False, "Call-to-action button colour",
     ["red", "orange", "gold", "green", "blue", "purple", "black", "white"]),
    ("presentation", "layout", False, "Arrangement of image and text", ["single", "list", "grid", "left_image"]),
    ("presentation", "text_position", False, "Where the copy sits", ["left", "right", "bottom"]),
    ("presentation", "background", False, "What is behind the copy", ["image", "solid", "gradient"]),
    ("presentation", "subject", True, "What the image shows",
     ["person", "gold", "product", "coins", "chart", "scenery", "abstract"]),
    ("content", "appeal", True, "What the copy appeals to",
     ["benefit", "social_proof", "authority", "cognition", "urgency", "plain"]),
    ("content", "benefit_type", True, "Kind of benefit offered",
     ["red_packet", "lottery", "discount", "cashback", "interest_rate", "free_trial"]),
    ("content", "tone", False, "Voice of the copy", ["formal", "friendly", "playful"]),
    ("content", "copy_length", False, "Length of the headline", ["short", "long"]),
    ("content", "language", False, "Language of the copy", ["en", "zh"]),
]


def normalize_tags(tags: Mapping[str, Iterable[str] | str] | None) -> Tags:
    """Tags as sorted, de-duplicated lists per group; accepts single strings for convenience."""
    result: Tags = {}
    for group, values in (tags or {}).items():
        if isinstance(values, str):
            values = [values]
        cleaned = sorted({str(v).strip() for v in values if str(v).strip()})
        if cleaned:
            result[str(group).strip()] = cleaned
    return result


def validate_tags(tags: Mapping[str, Iterable[str] | str] | None, *, field: str = "tags") -> Tags:
    """Normalised tags, or a ValidationError naming every unknown group or value."""
    from .models import TagGroup

    # Tags often arrive as JSON typed by a person (admin forms): refuse other shapes with a message.
    if tags is not None and not isinstance(tags, Mapping):
        raise ValidationError({field: ["must map each tag group to a value or a list of values"]})
    for group, values in (tags or {}).items():
        if not isinstance(values, str) and not (
                isinstance(values, list | tuple | set) and all(isinstance(v, str) for v in values)):
            raise ValidationError({field: [f"'{group}': give a value or a list of values (strings)"]})
    normalized = normalize_tags(tags)
    if not normalized:
        return normalized
    problems: list[str] = []
    for group, values in list(normalized.items()):
        # Names are slugs; control characters (a NUL byte breaks PostgreSQL text) never reach the database.
        if any(not _printable(text) for text in [group, *values]):
            problems.append(f"'{group[:40]!r}': tag names and values must not contain control characters")
            del normalized[group]
    groups = {g.name: g for g in TagGroup.objects.prefetch_related("values").filter(name__in=normalized)}
    for group, values in normalized.items():
        tag_group = groups.get(group)
        if tag_group is None:
            problems.append(f"unknown tag group '{group}'")
            continue
        allowed = {v.value for v in tag_group.values.all()}
        unknown = [v for v in values if v not in allowed]
        if unknown:
            problems.append(f"unknown value(s) {', '.join(unknown)} for '{group}' (allowed: {', '.join(sorted(allowed))})")
        if not tag_group.multi_valued and len(values) > 1:
            problems.append(f"'{group}' takes one value, got {', '.join(values)}")
    if problems:
        raise ValidationError({field: problems})
    return normalized


def _printable(text: str) -> bool:
    return all(ch.isprintable() for ch in text)


def merge_tags(*parts: Mapping[str, list[str]] | None, overrides: Mapping[str, list[str]] | None = None) -> Tags:
    """Union of several tag maps; an override replaces a group's values entirely."""
    merged: dict[str, set[str]] = {}
    for part in parts:
        for group, values in (part or {}).items():
            merged.setdefault(group, set()).update(values)
    result = {group: sorted(values) for group, values in merged.items() if values}
    for group, values in (overrides or {}).items():
        if values:
            result[group] = sorted(set(values))
        else:
            result.pop(group, None)
    return dict(sorted(result.items()))


def manual_tag_sources(groups: Iterable[str]) -> dict[str, dict]:
    """`tag_sources` entries marking groups as set by a person: auto-tagging never overwrites them."""
    return {group: {"source": "manual", "confidence": 1.0} for group in groups}


def seed_taxonomy(tag_group_model, tag_value_model) -> None:
    """Create the default taxonomy; existing groups and values are kept as they are."""
    for layer, name, multi, description, values in DEFAULT_TAXONOMY:
        group, _ = tag_group_model.objects.get_or_create(
            name=name, defaults={"layer": layer, "multi_valued": multi, "description": description}
        )
        for value in values:
            tag_value_model.objects.get_or_create(group=group, value=value)


def parse_tag(text: str, *, field: str = "tag") -> tuple[str, str]:
    """'group=value' checked against the taxonomy; a ValidationError that says what is wrong otherwise."""
    from .models import TagValue

    text = (text or "").strip()
    group, sep, value = text.partition("=")
    group, value = group.strip(), value.strip()
    if not sep or not group or not value:
        raise ValidationError({field: [f"write a tag as group=value, e.g. button_color=red (got '{text[:60]}')"]})
    if not TagValue.objects.filter(group__name=group).exists():
        raise ValidationError({field: [f"unknown tag group '{group[:60]}'"]})
    if not TagValue.objects.filter(group__name=group, value=value).exists():
        allowed = ", ".join(TagValue.objects.filter(group__name=group).values_list("value", flat=True))
        raise ValidationError({field: [f"unknown value '{value[:60]}' for '{group}' (allowed: {allowed})"]})
    return group, value


def tag_pairs(tags: Mapping[str, list[str]]) -> set[str]:
    """Flattened 'group=value' strings, handy for exclusion rules and features."""
    return {f"{group}={value}" for group, values in tags.items() for value in values}
