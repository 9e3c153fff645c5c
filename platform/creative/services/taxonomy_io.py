"""The tag taxonomy in and out: declared from an import file's columns, or moved between installs as a
YAML or JSON document (`export_taxonomy` / `import_taxonomy`).

Nothing here deletes or redefines: groups and values are added, descriptions updated; a group whose
layer or multi-valued flag differs from the install's is refused by name, since variants and trained
models already read it as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import TagGroup, TagValue

LAYERS = tuple(TagGroup.Layer.values)
DEFAULT_LAYER = TagGroup.Layer.CONTENT
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,60}$")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_GROUPS = 500
MAX_VALUES_PER_GROUP = 1000
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TagColumn:
    """A `tag:<group>`, `tag:presentation/<group>` or `tag:content/<group>` column."""

    group: str
    layer: str | None  # None: the column does not say


def parse_tag_column(name: str) -> TagColumn:
    rest = name.removeprefix("tag:")
    layer, slash, group = rest.rpartition("/")
    if slash and layer not in LAYERS:
        raise ValidationError(f"the layer in tag:<layer>/<group> is one of {', '.join(LAYERS)}, not '{layer[:40]}'")
    if not _SLUG.match(group):
        raise ValidationError("a tag group name is 1-60 letters, digits, _ or -")
    return TagColumn(group=group, layer=layer or None)


@dataclass
class _NewGroup:
    column: str
    layer: str
    first_line: int
    values: dict[str, int] = field(default_factory=dict)  # value -> first line
    multi_valued: bool = False


@dataclass
class TagPlan:
    """What a file's tag columns use that the taxonomy lacks, and columns that contradict it."""

    new_groups: dict[str, _NewGroup] = field(default_factory=dict)
    new_values: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)  # -> (column, first line)
    allowed: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def unknown_pairs(self) -> set[tuple[str, str]]:
        """(group, value) pairs the taxonomy lacks; (group, "") for a whole unknown group."""
        return {(g, "") for g in self.new_groups} | set(self.new_values)

    def refusals(self) -> list[str]:
        """One message per unknown group and per unknown value, at the first line that uses it."""
        messages = [f"line {g.first_line}, column {g.column}: unknown tag group '{name}' with value(s) "
                    f"{', '.join(g.values)} (--create-tags declares it)" for name, g in self.new_groups.items()]
        messages += [f"line {line}, column {column}: unknown value '{value}' for '{group}' "
                     f"(allowed: {', '.join(self.allowed[group])}; --create-tags declares it)"
                     for (group, value), (column, line) in self.new_values.items()]
        return messages


def unknown_tags(columns: dict[str, TagColumn], used: Iterable[tuple[int, str, str]]) -> TagPlan:
    """Compare the (line, column, value) triples a file uses with the taxonomy."""
    plan = TagPlan()
    existing = {g.name: g for g in TagGroup.objects.prefetch_related("values")
                .filter(name__in=[c.group for c in columns.values()])}
    for group in existing.values():
        plan.allowed[group.name] = sorted(v.value for v in group.values.all())
    per_line: dict[tuple[str, int], int] = {}
    for line, column, value in used:
        spec = columns[column]
        group = existing.get(spec.group)
        per_line[(spec.group, line)] = per_line.get((spec.group, line), 0) + 1
        if group is None:
            new = plan.new_groups.setdefault(spec.group, _NewGroup(column=column, layer=spec.layer or DEFAULT_LAYER,
                                                                   first_line=line))
            new.values.setdefault(value, line)
            new.multi_valued = new.multi_valued or per_line[(spec.group, line)] > 1
        elif value not in plan.allowed[spec.group]:
            plan.new_values.setdefault((spec.group, value), (column, line))
    for column, spec in columns.items():
        group = existing.get(spec.group)
        if group is not None and spec.layer and spec.layer != group.layer:
            plan.conflicts.append(f"line 1, column {column}: '{spec.group}' is a {group.layer} group here")
    return plan


def _slug_problems(names: Iterable[str], what: str) -> list[str]:
    return [f"{what} {name[:60]!r}: 1-60 letters, digits, _ or -" for name in names if not _SLUG.match(name)]


@transaction.atomic
def taxonomy_declare(plan: TagPlan) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Create the groups and values of a plan; returns (groups, "group=value" pairs) created."""
    problems = [p for name, g in plan.new_groups.items() for p in _slug_problems(g.values, f"tag:{name} value")]
    problems += [p for (group, value) in plan.new_values for p in _slug_problems([value], f"tag:{group} value")]
    if problems:
        raise ValidationError(problems)
    created_values: list[str] = []
    for name, new in plan.new_groups.items():
        group = TagGroup.objects.create(name=name, layer=new.layer, multi_valued=new.multi_valued)
        TagValue.objects.bulk_create([TagValue(group=group, value=v) for v in new.values])
        created_values += [f"{name}={v}" for v in new.values]
    groups = {g.name: g for g in TagGroup.objects.filter(name__in={g for g, _ in plan.new_values})}
    TagValue.objects.bulk_create([TagValue(group=groups[g], value=v) for g, v in plan.new_values])
    created_values += [f"{g}={v}" for g, v in plan.new_values]
    return tuple(plan.new_groups), tuple(created_values)


# --- export / import as a document ---------------------------------------------------------------------------

def taxonomy_export() -> dict[str, Any]:
    """The whole taxonomy as plain data: groups with layer, flag, description and values."""
    groups = TagGroup.objects.prefetch_related("values").order_by("layer", "name")
    return {"kaleido_taxonomy": FORMAT_VERSION, "groups": [
        {"name": g.name, "layer": g.layer, "multi_valued": g.multi_valued, "description": g.description,
         "values": [{"value": v.value, "description": v.description}
                    for v in sorted(g.values.all(), key=lambda v: v.value)]}
        for g in groups]}


def taxonomy_dump(document: dict[str, Any], *, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def taxonomy_load(data: bytes, *, fmt: str | None = None) -> Any:
    """Parse a YAML or JSON document (JSON when `fmt` says so, YAML otherwise, which also reads JSON)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"The file is larger than {MAX_DOCUMENT_BYTES // 1024 // 1024} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file must be UTF-8 encoded.") from exc
    try:
        return json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"Not readable as {'JSON' if fmt == 'json' else 'YAML or JSON'}: "
                              f"{str(exc).splitlines()[0][:200]}") from exc


@dataclass(frozen=True)
class TaxonomyImportResult:
    created_groups: tuple[str, ...]
    created_values: tuple[str, ...]  # "group=value"
    updated_descriptions: int


def _text(value: Any, where: str, problems: list[str], *, limit: int = 300) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or any(not c.isprintable() for c in value):
        problems.append(f"{where}: a line of text of at most {limit} printable characters")
        return ""
    return value


def _clean_document(document: Any) -> tuple[list[dict[str, Any]], list[str]]:
    problems: list[str] = []
    raw_groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(raw_groups, list):
        return [], ["the document is a mapping with a 'groups' list (what export_taxonomy writes)"]
    if len(raw_groups) > MAX_GROUPS:
        return [], [f"more than {MAX_GROUPS} groups"]
    cleaned, names = [], set()
    for i, raw in enumerate(raw_groups):
        where = f"groups[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: a mapping with name, layer, multi_valued, description, values")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not _SLUG.match(name):
            problems.append(f"{where}.name: 1-60 letters, digits, _ or -")
            continue
        where = f"groups[{i}] ({name})"
        if name in names:
            problems.append(f"{where}: appears twice")
        names.add(name)
        layer = raw.get("layer", DEFAULT_LAYER)
        if layer not in LAYERS:
            problems.append(f"{where}.layer: one of {', '.join(LAYERS)}")
        multi = raw.get("multi_valued", False)
        if not isinstance(multi, bool):
            problems.append(f"{where}.multi_valued: true or false")
        raw_values = raw.get("values") or []
        if not isinstance(raw_values, list) or len(raw_values) > MAX_VALUES_PER_GROUP:
            problems.append(f"{where}.values: a list of at most {MAX_VALUES_PER_GROUP} values")
            raw_values = []
        values: dict[str, str] = {}
        for j, item in enumerate(raw_values):
            value, description = (item, "") if isinstance(item, str) else (
                (item.get("value"), item.get("description")) if isinstance(item, dict) else (None, None))
            if not isinstance(value, str) or not _SLUG.match(value):
                problems.append(f"{where}.values[{j}]: a value is 1-60 letters, digits, _ or -")
                continue
            values[value] = _text(description, f"{where}.values[{j}].description", problems)
        cleaned.append({"name": name, "layer": layer, "multi_valued": multi, "values": values,
                        "description": _text(raw.get("description"), f"{where}.description", problems)})
    return cleaned, problems


@transaction.atomic
def taxonomy_import(document: Any) -> TaxonomyImportResult:
    """Add the document's groups and values (all or nothing; ValidationError names each problem)."""
    groups, problems = _clean_document(document)
    existing = {g.name: g for g in TagGroup.objects.prefetch_related("values").filter(
        name__in=[g["name"] for g in groups])}
    for spec in groups:
        group = existing.get(spec["name"])
        if group is None:
            continue
        if group.layer != spec["layer"]:
            problems.append(f"group '{group.name}': layer is {group.layer} here, {spec['layer']} in the file")
        if group.multi_valued != spec["multi_valued"]:
            problems.append(f"group '{group.name}': multi_valued is {str(group.multi_valued).lower()} here, "
                            f"{str(spec['multi_valued']).lower()} in the file")
    if problems:
        raise ValidationError(problems)
    created_groups: list[str] = []
    created_values: list[str] = []
    updated = 0
    for spec in groups:
        group = existing.get(spec["name"])
        if group is None:
            group = TagGroup.objects.create(name=spec["name"], layer=spec["layer"], multi_valued=spec["multi_valued"],
                                            description=spec["description"])
            created_groups.append(group.name)
            have: dict[str, TagValue] = {}
        else:
            have = {v.value: v for v in group.values.all()}
            if spec["description"] and spec["description"] != group.description:
                group.description = spec["description"]
                group.save(update_fields=["description"])
                updated += 1
        for value, description in spec["values"].items():
            current = have.get(value)
            if current is None:
                TagValue.objects.create(group=group, value=value, description=description)
                created_values.append(f"{group.name}={value}")
            elif description and description != current.description:
                current.description = description
                current.save(update_fields=["description"])
                updated += 1
    return TaxonomyImportResult(created_groups=tuple(created_groups), created_values=tuple(created_values),
                                updated_descriptions=updated)
