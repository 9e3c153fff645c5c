"""Features of a (user, variant, position) row, described by a JSON feature spec saved with each model.

User features are typed from the training data: strings and booleans are categorical, numbers numeric.
A categorical value never seen in training, a number where a category was expected (or the reverse) and a
missing key all become "missing" (NaN for LightGBM, all-zero one-hot for the logistic regression).
Variant tags become multi-hot `tag:group=value` columns, so a brand-new variant is scored from its tags.

Variants are also looked up by id (`spec["variant_ids"]`): for a per-variant quality term (the logistic
regression's shrunk `w_variant`, or LightGBM's categorical variant column when `variant_column` is on) and,
in the general model, for the placement and surface each variant is shown on (`spec["variant_context"]`),
so a banner and a card get different predictions. Both are derived from the variant id on the one path
training, serving and evaluation share (variant_codes → lgb_matrix / logreg_context).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

CONTEXT_PREFIX = "ctx."
MAX_CATEGORIES = 100
MIN_CATEGORY_COUNT = 3
NUMBER_BINS = 8  # quantile bins of each number for the logistic regression (threshold effects)


def row_features(features: Mapping[str, Any] | None, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """User features and request context as one flat map (context keys prefixed so they never clash)."""
    merged = dict(features or {})
    for key, value in (context or {}).items():
        merged[f"{CONTEXT_PREFIX}{key}"] = value
    return merged


def _kind(value: Any) -> str | None:
    if isinstance(value, bool) or isinstance(value, str):
        return "cat"
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return "num"
    return None


def _cat_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return None


def tag_columns(tags: Mapping[str, Iterable[str]] | None) -> list[str]:
    return sorted(f"{group}={value}" for group, values in (tags or {}).items() for value in values)


def build_spec(
    *, feature_rows: Sequence[Mapping[str, Any]], variant_tags: Iterable[Mapping[str, Iterable[str]]],
    variant_ids: Iterable[int] | None = None, variant_column: bool = True,
    variant_context: Mapping[int, tuple[str | None, str | None]] | None = None,
    context_vocabulary: Iterable[tuple[str | None, str | None]] = (),
) -> dict[str, Any]:
    """Infer the feature spec from training rows and the tags of every variant that may be scored.

    `variant_ids`: the variants to look up by id (None: none); `variant_column` puts the id in LightGBM's
    matrix as a categorical column. `variant_context` (general model): variant id → (placement slug,
    surface); only placements and surfaces in `context_vocabulary` (those of the training rows) get a
    code, others are missing."""
    kinds: dict[str, Counter] = {}
    values: dict[str, Counter] = {}
    numbers: dict[str, list[float]] = {}
    for row in feature_rows:
        for name, value in row.items():
            kind = _kind(value)
            if kind is None:
                continue
            kinds.setdefault(name, Counter())[kind] += 1
            if kind == "cat":
                values.setdefault(name, Counter())[_cat_value(value)] += 1
            else:
                numbers.setdefault(name, []).append(float(value))
    return spec_from_counts(kinds=kinds, values=values, numbers=numbers, variant_tags=variant_tags,
                            variant_ids=variant_ids, variant_column=variant_column, variant_context=variant_context,
                            context_vocabulary=context_vocabulary)


def spec_from_counts(
    *, kinds: Mapping[str, Counter], values: Mapping[str, Counter], numbers: Mapping[str, Sequence[float] | np.ndarray],
    variant_tags: Iterable[Mapping[str, Iterable[str]]], variant_ids: Iterable[int] | None = None,
    variant_column: bool = True, variant_context: Mapping[int, tuple[str | None, str | None]] | None = None,
    context_vocabulary: Iterable[tuple[str | None, str | None]] = (),
) -> dict[str, Any]:
    """build_spec from the training rows' counts: per feature, how many rows had a category ("cat") or a
    finite number ("num"), each category's count, and the finite numbers. Training's streamed rows count
    these column by column (ranking.training.EncodedRows) and get the spec build_spec gives their dicts."""
    user = []
    for name in sorted(kinds):
        kind = kinds[name].most_common(1)[0][0]
        if kind == "cat":
            seen = [v for v, n in values.get(name, Counter()).most_common(MAX_CATEGORIES) if n >= MIN_CATEGORY_COUNT]
            if not seen:
                continue
            user.append({"name": name, "kind": "cat", "values": sorted(seen)})
        else:
            user.append({"name": name, "kind": "num", "bins": _bin_edges(numbers.get(name, ()))})
    tags = sorted({col for tags in variant_tags for col in tag_columns(tags)})
    ids = set(variant_ids) if variant_ids is not None else None
    if variant_context is not None:
        ids = (ids or set()) | set(variant_context)
    spec: dict[str, Any] = {
        "user": user,
        "tags": tags,
        "variant_ids": sorted(ids) if ids is not None else None,
        "position": True,
    }
    if ids is not None and not variant_column:
        spec["variant_column"] = False
    if variant_context is not None:
        seen = list(context_vocabulary)
        placements = sorted({p for p, _ in seen if p is not None})
        surfaces = sorted({s for _, s in seen if s is not None})
        p_code, s_code = {p: i for i, p in enumerate(placements)}, {s: i for i, s in enumerate(surfaces)}
        spec["variant_context"] = {
            "placements": placements, "surfaces": surfaces,
            "placement": [p_code.get(variant_context.get(v, (None, None))[0]) for v in spec["variant_ids"]],
            "surface": [s_code.get(variant_context.get(v, (None, None))[1]) for v in spec["variant_ids"]],
        }
    return spec


def has_variant_column(spec: Mapping[str, Any]) -> bool:
    """Whether LightGBM's matrix has the categorical variant-id column."""
    return spec.get("variant_ids") is not None and spec.get("variant_column", True)


def context_codes(spec: Mapping[str, Any], variant_codes_: np.ndarray | None) -> np.ndarray | None:
    """(rows × 2) placement and surface codes of each row's variant (NaN unknown); None without context."""
    context = spec.get("variant_context")
    if context is None:
        return None
    table = np.array([[np.nan if p is None else p, np.nan if s is None else s]
                      for p, s in zip(context["placement"], context["surface"], strict=True)] or
                     np.zeros((0, 2)), dtype=np.float64).reshape(-1, 2)
    codes = np.asarray(variant_codes_, dtype=np.float64).reshape(-1)
    out = np.full((len(codes), 2), np.nan)
    ok = ~np.isnan(codes)
    out[ok] = table[codes[ok].astype(int)]
    return out


def _bin_edges(values: Sequence[float] | np.ndarray) -> list[float]:
    """Interior quantile cut points of a number (distinct, at most NUMBER_BINS - 1), from training rows."""
    numbers = np.asarray(values, dtype=np.float64)
    if not len(numbers):
        return []
    qs = np.quantile(numbers, np.linspace(0, 1, NUMBER_BINS + 1)[1:-1])
    edges = sorted({float(q) for q in qs})
    lo = float(numbers.min())
    return [e for e in edges if e > lo]


def column_names(spec: Mapping[str, Any]) -> list[str]:
    """Columns of the LightGBM matrix, in order."""
    names = [f["name"] for f in spec["user"]] + [f"tag:{t}" for t in spec["tags"]]
    if has_variant_column(spec):
        names.append("variant_id")
    if spec.get("variant_context") is not None:
        names += ["placement", "surface"]
    if "variant_offset" in spec:
        names.append("variant_quality")
    names.append("position")
    return names


def categorical_indices(spec: Mapping[str, Any]) -> list[int]:
    idx = [i for i, f in enumerate(spec["user"]) if f["kind"] == "cat"]
    after = len(spec["user"]) + len(spec["tags"])
    if has_variant_column(spec):
        idx.append(after)
        after += 1
    if spec.get("variant_context") is not None:
        idx += [after, after + 1]
    return idx


# --- LightGBM encoding: category codes (NaN = missing), raw numbers, multi-hot tags ------------------------

def user_codes(spec: Mapping[str, Any], feature_rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """(rows × user features) float matrix: category codes or numbers, NaN where missing or unseen."""
    encoders = user_encoders(spec)
    out = np.full((len(feature_rows), len(encoders)), np.nan, dtype=np.float64)
    nan = math.nan
    for c, (name, lookup, flags) in enumerate(encoders):
        values = [row.get(name) for row in feature_rows]
        if lookup is not None and flags is not None:  # a category (a number has neither lookup)
            # type() checks, not isinstance: True must not count as the number 1, nor 1 as True.
            column = [lookup.get(v, nan) if type(v) is str else flags[v] if type(v) is bool else nan
                      for v in values]
        else:
            column = [float(v) if type(v) is int or type(v) is float else nan for v in values]
        out[:, c] = column
    return out


def user_encoders(spec: Mapping[str, Any]) -> list[tuple[str, dict | None, dict | None]]:
    """Per user feature: (name, category lookup, boolean lookup), None lookups for numbers; see encode_user_row."""
    nan = math.nan
    encoders: list[tuple[str, dict | None, dict | None]] = []
    for f in spec["user"]:
        if f["kind"] == "cat":
            lookup = {v: float(i) for i, v in enumerate(f["values"])}
            encoders.append((f["name"], lookup, {True: lookup.get("true", nan), False: lookup.get("false", nan)}))
        else:
            encoders.append((f["name"], None, None))
    return encoders


def encode_user_row(encoders: Sequence[tuple[str, dict | None, dict | None]], row: Mapping[str, Any]) -> np.ndarray:
    """user_codes for a single row (the serving path), with the encoders built once per model."""
    nan = math.nan
    out = []
    for name, lookup, flags in encoders:
        v = row.get(name)
        if lookup is not None and flags is not None:  # a category (a number has neither lookup)
            out.append(lookup.get(v, nan) if type(v) is str else flags[v] if type(v) is bool else nan)
        else:
            out.append(float(v) if type(v) is int or type(v) is float else nan)
    return np.array(out, dtype=np.float64)


def tag_matrix(spec: Mapping[str, Any], tags_list: Sequence[Mapping[str, Iterable[str]] | None]) -> np.ndarray:
    index = {t: i for i, t in enumerate(spec["tags"])}
    out = np.zeros((len(tags_list), len(index)), dtype=np.float64)
    for r, tags in enumerate(tags_list):
        for col in tag_columns(tags):
            i = index.get(col)
            if i is not None:
                out[r, i] = 1.0
    return out


def variant_codes(spec: Mapping[str, Any], variant_ids: Sequence[int | None]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(spec.get("variant_ids") or [])}
    return np.array([lookup.get(v, np.nan) for v in variant_ids], dtype=np.float64)


def lgb_matrix(
    spec: Mapping[str, Any], *, users: np.ndarray, tags: np.ndarray, variant_codes_: np.ndarray | None,
    positions: np.ndarray,
) -> np.ndarray:
    parts = [users, tags]
    if has_variant_column(spec):
        if variant_codes_ is None:
            raise ValueError("this model reads the variant column: give variant_codes_")
        parts.append(variant_codes_.reshape(-1, 1))
    context = context_codes(spec, variant_codes_)
    if context is not None:
        parts.append(context)
    if "variant_offset" in spec:
        parts.append(variant_offsets(spec, variant_codes_).reshape(-1, 1))
    parts.append(positions.reshape(-1, 1).astype(np.float64))
    return np.hstack(parts)


def variant_offset_column(spec: Mapping[str, Any]) -> int | None:
    """Index of LightGBM's `variant_quality` column: the shrunk per-variant quality on the log-odds scale,
    looked up by variant id. The booster was trained with it at 0 (so never splits on it) and
    registry.LoadedModel.predict_matrix adds it to the booster's log-odds."""
    if "variant_offset" not in spec:
        return None
    return len(column_names(spec)) - 2


def variant_offsets(spec: Mapping[str, Any], variant_codes_: np.ndarray | None) -> np.ndarray:
    """Each row's variant quality offset (0 for a variant the model never saw, or without offsets)."""
    offsets = spec.get("variant_offset")
    table = np.asarray(offsets if offsets is not None else [], dtype=np.float64)
    codes = np.asarray(variant_codes_ if variant_codes_ is not None else [], dtype=np.float64).reshape(-1)
    out = np.zeros(len(codes))
    ok = ~np.isnan(codes)
    if len(table):
        out[ok] = table[codes[ok].astype(int)]
    return out


# --- Logistic regression encoding: one-hot + standardised numbers, crossed with every tag -----------------

def logreg_user_columns(spec: Mapping[str, Any]) -> list[str]:
    cols: list[str] = []
    for f in spec["user"]:
        if f["kind"] == "cat":
            cols.extend(f"{f['name']}={v}" for v in f["values"])
        else:
            cols.append(f["name"])
            edges = f.get("bins") or []
            if edges:
                bounds = ["-inf", *(f"{e:g}" for e in edges), "inf"]
                cols.extend(f"{f['name']}∈[{bounds[i]},{bounds[i + 1]})" for i in range(len(edges) + 1))
    return cols


def logreg_user_matrix(spec: Mapping[str, Any], codes: np.ndarray, scaling: Mapping[str, Sequence[float]]
                       ) -> np.ndarray:
    """From the LightGBM codes: one-hot categories; numbers standardised (missing = mean = 0) and, when the
    spec has quantile bins, also one-hot by bin (missing = no bin), so a threshold effect is one weight."""
    blocks = []
    for c, f in enumerate(spec["user"]):
        column = codes[:, c]
        ok = ~np.isnan(column)
        if f["kind"] == "cat":
            block = np.zeros((len(column), len(f["values"])))
            block[np.nonzero(ok)[0], column[ok].astype(int)] = 1.0
        else:
            mean, std = scaling[f["name"]]
            block = np.nan_to_num((column - mean) / (std or 1.0), nan=0.0).reshape(-1, 1)
            edges = f.get("bins") or []
            if edges:
                bins = np.zeros((len(column), len(edges) + 1))
                bins[np.nonzero(ok)[0], np.searchsorted(edges, column[ok], side="right")] = 1.0
                block = np.hstack([block, bins])
        blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((codes.shape[0], 0))


def logreg_context(spec: Mapping[str, Any], variant_codes_: np.ndarray | None, rows: int) -> np.ndarray:
    """The general model's placement and surface one-hot for the logistic regression (rows × k; k = 0
    without context). They join the user-side block, so they cross with every tag: a grid layout can win on
    cards and lose on banners (a placement × user cross would not change any ranking within a placement)."""
    context = context_codes(spec, variant_codes_)
    if context is None:
        return np.zeros((rows, 0))
    blocks = []
    for c, key in enumerate(("placements", "surfaces")):
        onehot = np.zeros((len(context), len(spec["variant_context"][key])))
        ok = ~np.isnan(context[:, c])
        onehot[np.nonzero(ok)[0], context[ok, c].astype(int)] = 1.0
        blocks.append(onehot)
    return np.hstack(blocks)


def logreg_context_columns(spec: Mapping[str, Any]) -> list[str]:
    context = spec.get("variant_context")
    if context is None:
        return []
    return [f"placement={p}" for p in context["placements"]] + [f"surface={s}" for s in context["surfaces"]]


def variant_onehot(spec: Mapping[str, Any], variant_codes_: np.ndarray | None, scale: float = 1.0) -> Any:
    """Sparse (rows × looked-up variants) indicator of each row's variant, times `scale` (the logistic
    regression's per-variant term; scaling a column by s shrinks its weight s² times less)."""
    from scipy import sparse

    n_ids = len(spec.get("variant_ids") or [])
    codes = np.asarray(variant_codes_ if variant_codes_ is not None else [], dtype=np.float64).reshape(-1)
    ok = np.nonzero(~np.isnan(codes))[0]
    return sparse.csr_matrix((np.full(len(ok), scale), (ok, codes[ok].astype(int))), shape=(len(codes), n_ids))


def position_feature(positions: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(positions.astype(np.float64), 1.0)).reshape(-1, 1)


def logreg_design(u: np.ndarray, t: np.ndarray, positions: np.ndarray) -> Any:
    """Sparse design [user | tags | user × tag crosses (user-major: column a·n_tags + t) | log position]."""
    from scipy import sparse

    us, ts = sparse.csr_matrix(u), sparse.csc_matrix(t)
    # One block per tag (rows where it is on keep their user columns), then reorder to user-major.
    blocks = [us.multiply(ts[:, [j]]).tocsc() for j in range(t.shape[1])]
    nu, nt = u.shape[1], t.shape[1]
    crosses = sparse.hstack(blocks, format="csc") if blocks else sparse.csc_matrix((u.shape[0], 0))
    if nu and nt:
        tag_major = np.arange(nu * nt).reshape(nt, nu)  # column of (a, t) in the tag-major blocks
        crosses = crosses[:, tag_major.T.reshape(-1)]
    return sparse.hstack([us, sparse.csr_matrix(t), crosses, sparse.csr_matrix(position_feature(positions))],
                         format="csr")
