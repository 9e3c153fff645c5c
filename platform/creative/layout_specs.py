"""Layout templates as files a designer edits: JSON specs under creative/layouts/ (and an optional extra folder).

A template names its regions as fractions of the canvas (so one file serves every placement size), a safe
zone, a type scale (sizes as fractions of the canvas height, with a minimum the fitter never goes below),
colour tokens bound to the layout's brand colours, and how art is fitted (cover, focal point, corner radius).
docs/composition.md is the designer's guide. A layout row picks its template by name (its `template` field);
without one its kind's default is used, so the four original kinds keep their meaning.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)
BUILTIN_DIR = Path(__file__).resolve().parent / "layouts"
KIND_DEFAULT_TEMPLATE = {
    "single_image_text": "full_bleed",
    "left_image": "image_left",
    "list": "product_card",
    "grid": "product_grid",
    "text_only": "text_only",
}
BLOCKS = ("headline", "subline", "cta")
BACKDROP_STYLES = ("gradient", "blur", "none")


class TemplateError(ValueError):
    """A template file that does not follow the spec; `errors` maps a field path to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _box_errors(value, path: str) -> dict[str, str]:
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and 0 <= v <= 1 for v in value)):
        return {path: "a box is [left, top, right, bottom], each a fraction of the canvas from 0 to 1"}
    if value[0] >= value[2] or value[1] >= value[3]:
        return {path: "left must be less than right and top less than bottom"}
    return {}


def validate_template(spec: dict) -> dict:
    """The spec if valid; raises TemplateError with a message per field otherwise."""
    errors: dict[str, str] = {}
    if not isinstance(spec, dict):
        raise TemplateError({"": "a template is a JSON object"})
    if not isinstance(spec.get("name"), str) or not spec["name"].replace("_", "").isalnum():
        errors["name"] = "required: letters, digits and underscores"
    safe = spec.get("safe_zone", 0.08)
    if not isinstance(safe, int | float) or not 0 <= safe <= 0.3:
        errors["safe_zone"] = "a fraction of the shorter side, 0 to 0.3"
    boxes = spec.get("text_box")
    if not isinstance(boxes, dict) or not any(isinstance(v, list) for v in boxes.values()):
        errors["text_box"] = "required: {position: box}, e.g. {\"default\": [0.4, 0, 1, 1]}"
    else:
        for key, box in boxes.items():
            if isinstance(box, list):
                errors.update(_box_errors(box, f"text_box.{key}"))
    if "art" in spec:
        art = spec["art"]
        errors.update(_box_errors(art.get("box") if isinstance(art, dict) else None, "art.box"))
        if isinstance(art, dict) and art.get("fit", "cover") not in ("cover", "contain"):
            errors["art.fit"] = "cover or contain"
    if "grid" in spec:
        grid = spec["grid"]
        errors.update(_box_errors(grid.get("box") if isinstance(grid, dict) else None, "grid.box"))
        if isinstance(grid, dict) and grid.get("cells", 4) not in (2, 3, 4):
            errors["grid.cells"] = "2, 3 or 4"
    style = (spec.get("backdrop") or {}).get("style", "gradient")
    if style not in BACKDROP_STYLES:
        errors["backdrop.style"] = f"one of {', '.join(BACKDROP_STYLES)}"
    type_scale = spec.get("type")
    if not isinstance(type_scale, dict):
        errors["type"] = "required: sizes for headline, subline and cta"
    else:
        for block in BLOCKS:
            entry = type_scale.get(block)
            if not isinstance(entry, dict):
                errors[f"type.{block}"] = "required"
                continue
            size, minimum = entry.get("size"), entry.get("min", 0.04)
            if not isinstance(size, int | float) or not 0.02 <= size <= 0.5:
                errors[f"type.{block}.size"] = "a fraction of the canvas height, 0.02 to 0.5"
            elif not isinstance(minimum, int | float) or not 0.01 <= minimum <= size:
                errors[f"type.{block}.min"] = "a fraction of the canvas height, at most size"
            if entry.get("weight", "regular") not in ("regular", "bold"):
                errors[f"type.{block}.weight"] = "regular or bold"
    if spec.get("align", "left") not in ("left", "center"):
        errors["align"] = "left or center"
    if spec.get("valign", "center") not in ("top", "center", "bottom"):
        errors["valign"] = "top, center or bottom"
    if errors:
        raise TemplateError(errors)
    return spec


def designer_folder() -> Path:
    """Where templates saved from the admin live (settings.KALEIDO_LAYOUTS_DIR, else MEDIA_ROOT/layouts);
    a file there with a built-in's name replaces the built-in."""
    extra = getattr(settings, "KALEIDO_LAYOUTS_DIR", "") or ""
    return Path(extra) if extra else Path(settings.MEDIA_ROOT) / "layouts"


def _folders() -> list[Path]:
    return [BUILTIN_DIR, designer_folder()]


def save_template(spec: dict) -> Path:
    """Validate and write a template to the designers' folder; the registry reloads."""
    validate_template(spec)
    folder = designer_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['name']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    reload_templates()
    return path


@lru_cache(maxsize=1)
def _loaded() -> tuple[dict[str, dict], dict[str, str]]:
    """(templates by name, problems by file). A broken built-in is a bug and raises; a broken file in the
    designers' folder is left out and reported (the gallery shows it), so one typo never stops rendering."""
    templates: dict[str, dict] = {}
    problems: dict[str, str] = {}
    for folder in _folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                spec = validate_template(json.loads(path.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError, TemplateError) as error:
                if folder == BUILTIN_DIR:
                    raise TemplateError({path.name: str(error)}) from error
                problems[path.name] = str(error)
                logger.warning("layout template %s left out: %s", path, error)
                continue
            templates[spec["name"]] = spec
    return templates, problems


def _registry() -> dict[str, dict]:
    return _loaded()[0]


def template_problems() -> dict[str, str]:
    return dict(_loaded()[1])


def reload_templates() -> None:
    """Forget the loaded files (after a designer edits one)."""
    _loaded.cache_clear()


def template_names() -> list[str]:
    return sorted(_registry())


def layout_template(name: str | None = None, kind: str | None = None) -> dict:
    """A template by name, else the default for a layout kind; unknown names fall back to the kind's."""
    templates = _registry()
    if name and name in templates:
        return templates[name]
    return templates[KIND_DEFAULT_TEMPLATE.get(kind or "", "full_bleed")]


def validate_template_name(value: str) -> None:
    """Model-field validator: blank (the kind's default) or the name of a template file."""
    from django.core.exceptions import ValidationError

    if value and value not in _registry():
        raise ValidationError(f"Unknown layout template “{value}”; known: {', '.join(template_names())}.")
