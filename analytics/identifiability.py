"""Which tag effects the live catalogue can tell apart, and which material would separate the others.

Any method that learns from served variants (a CTR grid, the EBM, the ranker) sees a tag only through
the variants that carry it. Two tag values that are on exactly the same live variants ("every green
button is a stack layout") are *aliased*: no amount of traffic can say which of the two users react to.
This module reads the live, unblocked catalogue and answers:

- the tag values and, for each, whether its effect is identifiable;
- the aliased sets, with the material that carries each member and a concrete way to separate them
  ("add a layout with button_color = green and layout = grid");
- tags on every live variant (their effect cannot be told from the placement's base rate);
- the rank of the catalogue's design matrix (intercept + one column per tag value) against the number
  of parameters a fully identifiable catalogue has, so dependencies beyond pairs are counted too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from creative.models import Placement, StyleVariant, VariantStatus

_MATERIAL_KINDS = ("copy", "image", "layout")
_MATERIAL_NAMES = {"copy": "copy", "image": "image", "layout": "layout"}


def _key(group: str, value: str) -> str:
    return f"{group}={value}"


def catalogue_identifiability(*, placement: Placement) -> dict[str, Any]:
    variants = list(StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE, blocked=False)
                    .select_related("copy", "image", "layout").order_by("id"))
    return identifiability_of([v.tags or {} for v in variants],
                              [_carriers(v) for v in variants], placement=placement.slug)


def _carriers(variant: StyleVariant) -> dict[str, list[str]]:
    """For each tag key of the variant, the material kinds whose own tags carry it."""
    out: dict[str, list[str]] = {}
    for kind in _MATERIAL_KINDS:
        part = getattr(variant, kind, None)
        for group, values in ((part.tags or {}) if part is not None else {}).items():
            for value in values or []:
                out.setdefault(_key(group, str(value)), []).append(kind)
    return out


def identifiability_of(variant_tags: list[dict[str, list[str]]], carriers: list[dict[str, list[str]]] | None = None,
                       *, placement: str = "") -> dict[str, Any]:
    """The identifiability answer for a catalogue given as each live variant's tags (and, optionally,
    which material kinds carry each tag on that variant)."""
    carriers = carriers or [{} for _ in variant_tags]
    keys = sorted({(g, str(v)) for tags in variant_tags for g, values in tags.items() for v in values or []})
    n = len(variant_tags)
    column = {k: i for i, k in enumerate(keys)}
    x = np.zeros((n, len(keys)))
    for row, tags in enumerate(variant_tags):
        for group, values in tags.items():
            for value in values or []:
                x[row, column[(group, str(value))]] = 1.0
    groups: dict[str, list[str]] = {}
    for group, value in keys:
        groups.setdefault(group, []).append(value)
    # A group whose variants each carry exactly one value has one value fewer free parameters.
    single_valued = {g: bool(n) and all(len(t.get(g) or []) == 1 for t in variant_tags) for g in groups}
    parameters = 1 + sum(len(v) - 1 if single_valued[g] else len(v) for g, v in groups.items())
    design = np.hstack([np.ones((n, 1)), x]) if n else np.zeros((0, 1))
    rank = int(np.linalg.matrix_rank(design)) if n else 0

    on_every = [k for k in keys if n and x[:, column[k]].all()]
    # A one-value group on every variant already has no free parameter; other constant columns cost one.
    constant_dependencies = sum(1 for k in on_every if not (single_valued[k[0]] and len(groups[k[0]]) == 1))
    by_pattern: dict[bytes, list[tuple[str, str]]] = {}
    for k in keys:
        by_pattern.setdefault(x[:, column[k]].astype(bool).tobytes(), []).append(k)
    alias_sets = [members for members in by_pattern.values() if len(members) > 1]
    aliases = [_alias(members, x, column, groups, carriers) for members in alias_sets]
    aliased_with = {m: [_key(*o) for o in members if o != m] for members in alias_sets for m in members}
    explained = sum(len(m) - 1 for m in alias_sets) + constant_dependencies
    other_dependencies = max(0, parameters - rank - explained)
    tags = [{"group": g, "value": v, "variants": int(x[:, column[(g, v)]].sum()),
             "identifiable": (g, v) not in aliased_with and (g, v) not in on_every and other_dependencies == 0,
             "aliased_with": aliased_with.get((g, v), [])} for g, v in keys]
    notes = []
    for alias in aliases:
        count = f"{alias['variants']} live variant{'' if alias['variants'] == 1 else 's'}"
        notes.append(f"{' and '.join(alias['tags'])} are always shown together ({count}): "
                     f"their effects cannot be told apart. {alias['separate_with'][0][:1].upper()}"
                     f"{alias['separate_with'][0][1:]}." if alias["separate_with"] else "")
    for g, v in on_every:
        notes.append(f"{g} = {v} is on every live variant: its effect cannot be told from the base rate.")
    if other_dependencies:
        notes.append(f"{other_dependencies} further linear dependenc{'y' if other_dependencies == 1 else 'ies'} "
                     f"among tag values (a value that always comes with one of several others): add variants "
                     f"that cross the groups more fully.")
    return {"placement": placement, "live_variants": n, "tag_values": len(keys),
            "identifiable": n > 0 and rank == parameters and not alias_sets,
            "rank": rank, "parameters": parameters, "tags": tags, "aliases": aliases,
            "on_every_variant": [_key(*k) for k in on_every], "other_dependencies": other_dependencies,
            "notes": [n for n in notes if n]}


def _alias(members: list[tuple[str, str]], x: np.ndarray, column: dict, groups: dict[str, list[str]],
           carriers: list[dict[str, list[str]]]) -> dict[str, Any]:
    rows = np.flatnonzero(x[:, column[members[0]]])
    kinds: dict[str, list[str]] = {}
    for member in members:
        found = {kind for r in rows for kind in carriers[r].get(_key(*member), [])}
        kinds[_key(*member)] = sorted(found)
    separate_with = []
    first = members[0]
    for other in members[1:]:
        separate_with.append(_separating_material(first, other, groups, kinds))
    return {"tags": [_key(*m) for m in members], "variants": int(len(rows)), "materials": kinds,
            "separate_with": separate_with}


def _separating_material(a: tuple[str, str], b: tuple[str, str], groups: dict[str, list[str]],
                         kinds: dict[str, list[str]]) -> str:
    """A concrete variant that shows `a` without `b`: `a` with another value of `b`'s group (or without
    `b` when its group has no other value), made from the material that would carry it."""
    alternatives = [v for v in groups.get(b[0], []) if v != b[1]]
    if a[0] == b[0]:
        with_ = f"{a[0]} = {a[1]} without {b[0]} = {b[1]}"
    elif alternatives:
        with_ = f"{a[0]} = {a[1]} and {b[0]} = {alternatives[0]}"
    else:
        with_ = f"{a[0]} = {a[1]} without {b[0]} = {b[1]}"
    kinds_a, kinds_b = set(kinds.get(_key(*a), [])), set(kinds.get(_key(*b), []))
    shared = sorted(kinds_a & kinds_b)
    if shared:  # one material carries both: a new material of that kind is what separates them
        return f"add a {_MATERIAL_NAMES[shared[0]]} with {with_}"
    if kinds_a and kinds_b:  # different materials that are only ever combined this way
        return (f"make live a variant that combines a {_MATERIAL_NAMES[sorted(kinds_a)[0]]} with {a[0]} = {a[1]} "
                f"and a {_MATERIAL_NAMES[sorted(kinds_b)[0]]} with "
                f"{b[0]} = {alternatives[0] if alternatives else 'another value'}")
    return f"add a variant with {with_}"
