"""Which segments prefer which tags: segment × tag grids, normalized preference, findings in plain words.

Computed on random-bucket impressions by default: there every live variant is equally likely for
every user, so a CTR difference between tags within a segment is the users' preference, not the
serving policy's. Other buckets are re-weighted by 1 / propensity (inverse-propensity weighting).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from creative.models import Placement
from kaleido.two_level_cache import TwoLevelCache

from . import interaction_log, stats
from .segments import AGE_EDGES, band_labels, band_order, is_numeric, segment_phrase

# Impressions a report read loads at most, the most recent first (see analytics.interaction_log).
MAX_ROWS = interaction_log.MAX_ROWS
FDR = 0.05
# A finding must also matter: at least a 10% difference from the segment's CTR.
MIN_EFFECT = 0.10
_IPW_CLIP = 100.0


def split_buckets(text: str) -> list[str]:
    """The bucket names of a comma-separated list, as the APIs and commands take them."""
    return [b.strip() for b in text.split(",") if b.strip()]


def impression_frame(*, placement: Placement, buckets: list[str] | tuple[str, ...] = ("random",),
                     days: int | None = None, limit: int = MAX_ROWS) -> pd.DataFrame:
    """One row per logged impression, read through the interaction log (its FEEDBACK_COLUMNS: user
    features, variant, bucket, propensity, clicked (0/1), the tags as served, ...).

    At most `limit` impressions, the most recent; the clicks read are those from the oldest of them on.
    The lean read: no statistic here looks at when an impression or click happened, so `decided_at`, `ts`
    and `clicked_at` are NaT (not parsed).
    """
    return interaction_log.impression_frame(placement=placement, buckets=buckets, days=days, limit=limit,
                                            times=False)


def numeric_edges(name: str, values: pd.Series) -> list[float]:
    """Readable band edges: the usual age bands, else quintile edges rounded to two significant digits."""
    if name.lower() == "age":
        return AGE_EDGES
    numbers = values.astype(float).to_numpy()
    qs = np.nanquantile(numbers, [0.2, 0.4, 0.6, 0.8])
    present = numbers[~np.isnan(numbers)]
    counts = bool(np.all(np.mod(present, 1) == 0))  # every value a whole number (float.is_integer)
    edges = []
    for q in qs:
        if q <= 0:
            rounded = 0.0
        else:
            digits = -int(math.floor(math.log10(abs(q)))) + 1
            rounded = round(float(q), digits)
        if counts:
            rounded = float(math.ceil(q))
        if not edges or rounded > edges[-1]:
            edges.append(rounded)
    return edges or [float(values.median())]


def _object_array(values: list[Any] | np.ndarray) -> np.ndarray:
    """A 1-d object array of `values` as they are (lists stay elements, not a second axis)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def _list_like(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Series)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


class _Distinct:
    """The distinct objects of an object column (by identity) and each row's code into them: per-row work
    on dicts the interaction log shares between rows (a user's features, a variant's tags) is done once
    per distinct dict and spread back with numpy."""

    def __init__(self, column: pd.Series):
        objects = column.to_numpy(dtype=object)
        codes, _ = pd.factorize(np.fromiter(map(id, objects), dtype=np.int64, count=len(objects)))
        self.codes = codes.astype(np.int64)
        _, first = np.unique(self.codes, return_index=True)
        self.objects = objects[first]
        self.index = column.index

    def spread(self, values: list[Any] | np.ndarray) -> pd.Series:
        """One value per distinct object → a row column (object dtype, the column's index)."""
        return pd.Series(_object_array(values)[self.codes], index=self.index, dtype=object)


def _raw_values(features: _Distinct, feature: str) -> list[Any]:
    return [f.get(feature) if isinstance(f, dict) else None for f in features.objects]


def segment_column(frame: pd.DataFrame, feature: str, *, features: _Distinct | None = None) -> pd.Series:
    """Each impression's segment value for `feature` (numbers binned into readable bands)."""
    features = features or _Distinct(frame["features"])
    return features.spread(_segment_labels(features, feature))


def _segment_labels(features: _Distinct, feature: str) -> np.ndarray:
    """The segment value of each distinct features dict (None: no segment); numeric bands are cut at the
    impressions' quantiles, each dict counted as often as its rows."""
    raw = _raw_values(features, feature)
    numeric_d = np.array([is_numeric(v) for v in raw], dtype=bool)
    present_d = ~pd.isna(_object_array(raw))
    if numeric_d.any() and numeric_d[present_d].all():
        number_d = np.array([float(v) if n else math.nan for v, n in zip(raw, numeric_d, strict=True)])
        numbers = number_d[features.codes][numeric_d[features.codes]]
        edges = numeric_edges(feature, pd.Series(numbers))
        # Labels carry the bands' real bounds: closed integer bands for counts, half-open for the rest.
        integer = bool(np.all(np.mod(numbers, 1) == 0))
        labels = np.array(band_labels(edges, integer=integer), dtype=object)
        out = np.full(len(raw), None, dtype=object)
        out[numeric_d] = labels[np.searchsorted(np.asarray(edges, dtype=float), number_d[numeric_d], side="right")]
        return out
    return _object_array([None if v is None else ("true" if v is True else "false" if v is False else str(v))
                          for v in raw])


def max_segment_levels() -> int:
    """KALEIDO_SEGMENT_MAX_LEVELS: the most values a user feature may have, after numbers are binned, to
    be a segment. A feature with a value per user (a device id, a postcode) would make a grid of one-user
    segments: nothing to test, and a cost that grows with the users."""
    return int(settings.KALEIDO_SEGMENT_MAX_LEVELS)


class HighCardinalityFeature(ValueError):
    """A grid asked for on a feature with more values than a segment may have (answered 400)."""

    field = "segment"


def _skip_reason(feature: str, levels: int, limit: int) -> str:
    return (f"{feature} has {levels:,} distinct values, more than KALEIDO_SEGMENT_MAX_LEVELS = {limit}: not a "
            f"segment (group it into at most {limit} values before sending it, or raise the setting).")


def _weights(frame: pd.DataFrame) -> np.ndarray:
    """Clipped (1/n)/p towards the uniform policy (`analytics.importance`, the rule training and OPE
    share); random-bucket rows weigh 1, rows without a usable propensity are NaN (dropped)."""
    from . import importance

    if set(frame["bucket"].unique()) <= {"random"}:
        return np.ones(len(frame))
    served = frame["served_bucket"] if "served_bucket" in frame else frame["bucket"]
    candidates = frame["candidates"].astype(float).to_numpy() if "candidates" in frame else np.full(len(frame), np.nan)
    return importance.uniform_weights(frame["propensity"].astype(float).to_numpy(), candidates,
                                      uniform_rows=(served == "random").to_numpy())


class _Columns:
    """Segment and tag columns of one impression frame, computed once and reused across grids. Each
    impression's tags are those its variant was served with (the frame's `tags` column)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.y = frame["clicked"].astype(float).to_numpy()
        self.w = _weights(frame)
        self.features = _Distinct(frame["features"])
        self._tags = _Distinct(frame["tags"])
        self._segments: dict[str, pd.Series] = {}
        self._groups: dict[str, pd.Series] = {}
        self._encoded_tags: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self._encoded_segments: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._segment_labels: dict[str, np.ndarray] = {}
        # Pooled analyses of this frame by (min_support, features, tag groups): every grid of one frame
        # shares its analysis (the prepared answers compute them all from one read).
        self.analyses: dict[tuple[int, tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}
        self._feature_names: list[str] | None = None
        self._group_names: list[str] | None = None

    def segment(self, feature: str) -> pd.Series:
        if feature not in self._segments:
            self._segments[feature] = self.features.spread(self._labels(feature))
        return self._segments[feature]

    def _labels(self, feature: str) -> np.ndarray:
        if feature not in self._segment_labels:
            self._segment_labels[feature] = _segment_labels(self.features, feature)
        return self._segment_labels[feature]

    def raw(self, feature: str) -> pd.Series:
        """Each impression's value of `feature` as sent (None where absent)."""
        return self.features.spread(_raw_values(self.features, feature))

    def levels(self, feature: str) -> int:
        """How many segment values `feature` has in this frame."""
        return len(self.encoded_segment(feature)[1])

    def encoded_segment(self, feature: str) -> tuple[np.ndarray, list[str]]:
        """findings.encode_segments of the feature's segment column, by hashing instead of sorting text."""
        if feature not in self._encoded_segments:
            codes, uniques = pd.factorize(self._labels(feature))  # per distinct features dict
            codes = codes[self.features.codes]
            text = [str(u) for u in uniques]
            order = sorted(range(len(text)), key=lambda i: (band_order(text[i]), text[i]))
            rank = np.empty(len(text), dtype=np.int64)
            rank[order] = np.arange(len(text), dtype=np.int64)
            codes = codes.astype(np.int64)
            if not text:  # a feature no impression has (a segment nobody sent): every row in no segment
                self._encoded_segments[feature] = (np.full(len(codes), -1, dtype=np.int64), [])
                return self._encoded_segments[feature]
            self._encoded_segments[feature] = (np.where(codes >= 0, rank[np.maximum(codes, 0)], -1),
                                               [text[i] for i in order])
        return self._encoded_segments[feature]

    def aliased_tag_sets(self) -> list[list[tuple[str, str]]]:
        """findings.aliased_tag_sets of the frame's tags, read once per distinct tag set: two tag values are
        on the same impressions exactly when they are, as often, on the same distinct tag sets."""
        on: dict[tuple[str, str], dict[int, int]] = {}
        for code, served in enumerate(self._tags.objects):
            for group, values in (served or {}).items():
                for value in values or []:
                    counts = on.setdefault((group, str(value)), {})
                    counts[code] = counts.get(code, 0) + 1
        by_signature: dict[tuple[tuple[int, int], ...], list[tuple[str, str]]] = {}
        for key, counts in on.items():
            by_signature.setdefault(tuple(sorted(counts.items())), []).append(key)
        return [sorted(keys) for keys in by_signature.values() if len(keys) > 1]

    def group(self, group: str) -> pd.Series:
        if group not in self._groups:
            self._groups[group] = self._tags.spread([(t or {}).get(group) or [] for t in self._tags.objects])
        return self._groups[group]

    def encoded_tags(self, group: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """findings.encode_tags of the group's column, exploded once per distinct tag set."""
        if group not in self._encoded_tags:
            per_object = []
            for tags in self._tags.objects:  # as pandas' explode().dropna().astype(str) reads the lists
                listed = (tags or {}).get(group) or []
                per_object.append([str(v) for v in (listed if _list_like(listed) else [listed]) if not _missing(v)])
            values = sorted({v for tags in per_object for v in tags})
            position = {v: i for i, v in enumerate(values)}
            lengths = np.array([len(tags) for tags in per_object], dtype=np.int64)
            flat = np.array([position[v] for tags in per_object for v in tags], dtype=np.int64)
            starts = np.cumsum(lengths) - lengths
            repeats = lengths[self._tags.codes]
            rows = np.repeat(np.arange(len(repeats), dtype=np.int64), repeats)
            within = np.arange(int(repeats.sum()), dtype=np.int64) - np.repeat(np.cumsum(repeats) - repeats, repeats)
            codes = flat[np.repeat(starts[self._tags.codes], repeats) + within] if len(flat) else flat
            self._encoded_tags[group] = (rows, codes, values)
        return self._encoded_tags[group]

    def feature_names(self) -> list[str]:
        if self._feature_names is None:  # asked by every grid of a frame
            self._feature_names = sorted({k for f in self.features.objects if isinstance(f, dict) for k in f})
        return list(self._feature_names)

    def group_names(self) -> list[str]:
        if self._group_names is None:
            self._group_names = sorted({g for t in self._tags.objects for g in (t or {})})
        return list(self._group_names)

    def bounded(self, features: list[str], limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
        """(the features that can be segments, the skipped ones with their level count and the reason)."""
        limit = max_segment_levels() if limit is None else limit
        kept, skipped = [], []
        for feature in features:
            levels = self.levels(feature)
            if levels > limit:
                skipped.append({"feature": feature, "levels": levels, "reason": _skip_reason(feature, levels, limit)})
            else:
                kept.append(feature)
        return kept, skipped


def grid_columns(frame: pd.DataFrame) -> _Columns:
    """The segment and tag columns of one impression frame, for many grids of it to share (attribution_grid's
    `columns`): each grid then reuses the frame's segment values, tag codes and pooled analysis."""
    return _Columns(frame)


def _cells(columns: _Columns, feature: str, group: str, min_support: int) -> list[dict]:
    work = pd.DataFrame({"segment": columns.segment(feature), "tag": columns.group(group), "y": columns.y,
                         "w": columns.w}).dropna(subset=["segment", "w"])
    if work.empty:
        return []
    work["wy"], work["ww"] = work["w"] * work["y"], work["w"] ** 2
    seg_totals = work.groupby("segment")[["w", "wy", "ww"]].sum()
    seg_counts = work.groupby("segment").size()
    exploded = work.explode("tag").dropna(subset=["tag"])
    grouped = exploded.groupby(["segment", "tag"])
    cell_totals = grouped[["w", "wy", "ww"]].sum()
    cell_counts = grouped.size()
    cell_clicks = grouped["y"].sum()
    out = []
    for (segment, tag), row in cell_totals.iterrows():
        total = seg_totals.loc[segment]
        n1, c1, s1 = row["w"], row["wy"], row["ww"]
        n2, c2, s2 = total["w"] - n1, total["wy"] - c1, total["ww"] - s1
        e1 = n1 * n1 / s1 if s1 > 0 else 0.0  # Kish effective sample sizes (= counts when unweighted)
        e2 = n2 * n2 / s2 if s2 > 0 else 0.0
        p1 = c1 / n1 if n1 > 0 else math.nan
        p2 = c2 / n2 if n2 > 0 else math.nan
        pseg = total["wy"] / total["w"] if total["w"] > 0 else math.nan
        ratio = p1 / pseg if pseg and pseg > 0 else math.nan
        ratio_ci = [None, None]
        p_value = math.nan
        if e1 > 1 and e2 > 1 and 0 < p1 < 1 and 0 < p2 < 1:
            w1 = n1 / (n1 + n2)
            g1, g2 = 1 / p1 - w1 / pseg, -(1 - w1) / pseg
            se = math.sqrt(g1 * g1 * p1 * (1 - p1) / e1 + g2 * g2 * p2 * (1 - p2) / e2)
            ratio_ci = [math.exp(math.log(ratio) - stats.Z95 * se), math.exp(math.log(ratio) + stats.Z95 * se)]
            pooled = (p1 * e1 + p2 * e2) / (e1 + e2)
            z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / e1 + 1 / e2))
            p_value = float(2 * stats.sps.norm.sf(abs(z)))
        low, high = stats.wilson_interval(c1, n1) if e1 == n1 else stats.normal_ci(p1, p1 * (1 - p1) / max(e1, 1))
        out.append({
            "segment_feature": feature, "segment_value": segment, "tag_group": group, "tag_value": tag,
            "impressions": int(cell_counts.loc[(segment, tag)]), "clicks": int(cell_clicks.loc[(segment, tag)]),
            "weighted_impressions": float(n1), "ctr": _f(p1), "ctr_ci": [_f(low), _f(high)],
            "segment_impressions": int(seg_counts.loc[segment]), "segment_ctr": _f(pseg),
            "normalized_preference": _f(ratio), "normalized_preference_ci": [_f(ratio_ci[0]), _f(ratio_ci[1])],
            "p_value": _f(p_value), "supported": bool(cell_counts.loc[(segment, tag)] >= min_support),
        })
    out.sort(key=lambda c: (band_order(c["segment_value"]), c["segment_value"], c["tag_value"]))
    return out


def _f(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _adjust_and_find(cells: list[dict]) -> list[dict]:
    """The marginal view's findings: BH across the supported cells of one grid (one family: a feature × a
    tag group); cells that are significant and differ by at least MIN_EFFECT, strongest first. Kept as a
    view, labelled marginal: it carries each tag's effect on everyone (analytics.findings does not)."""
    tested = [c for c in cells if c["supported"] and c["p_value"] is not None]
    q = stats.benjamini_hochberg([c["p_value"] for c in tested])
    for cell in cells:
        cell["q_value"] = None
    for cell, q_value in zip(tested, q, strict=True):
        cell["q_value"] = _f(q_value)
    findings = [c for c in tested if c["q_value"] is not None and c["q_value"] < FDR
                and c["normalized_preference"] and c["normalized_preference_ci"][0] is not None
                and abs(c["normalized_preference"] - 1) >= MIN_EFFECT]
    findings.sort(key=lambda c: (-abs(math.log(c["normalized_preference"])), c["q_value"]))
    return [_finding(c) for c in findings]


def _finding(cell: dict) -> dict:
    ratio = cell["normalized_preference"]
    low, high = cell["normalized_preference_ci"]
    verb = "prefer" if ratio > 1 else "avoid"
    who = segment_phrase(cell["segment_feature"], cell["segment_value"])
    text = (f"marginal: {who} {verb} {cell['tag_group']} = {cell['tag_value']}: {ratio:.2f}× [{low:.2f}, "
            f"{high:.2f}] of the segment's CTR, {cell['impressions']:,} impressions")
    return {"text": text, "segment_feature": cell["segment_feature"], "segment_value": cell["segment_value"],
            "tag_group": cell["tag_group"], "tag_value": cell["tag_value"], "direction": verb,
            "normalized_preference": ratio, "normalized_preference_ci": [low, high],
            "impressions": cell["impressions"], "q_value": cell["q_value"]}


def preference_analysis(*, frame: pd.DataFrame, min_support: int, features: list[str] | None = None,
                        tag_groups: list[str] | None = None, columns: _Columns | None = None,
                        max_levels: int | None = None) -> dict[str, Any]:
    """Relative preferences of every feature × tag group of `frame`, FDR-controlled as one pooled list
    (see analytics.findings). Features with more than `max_levels` segment values (default
    KALEIDO_SEGMENT_MAX_LEVELS) are not segments: they are left out of the pool and listed in the
    answer's `skipped_features` with the reason. Cached by the frame's content: an analyst reading grid
    after grid of one placement pays for the pooled analysis once, and new impressions change the key."""
    from .findings import analyse

    columns = columns or _Columns(frame)
    features, skipped = columns.bounded(features or columns.feature_names(), max_levels)
    tag_groups = tag_groups or columns.group_names()
    memo = (min_support, tuple(features), tuple(tag_groups))
    if memo in columns.analyses:
        return columns.analyses[memo]
    key = _analysis_key(frame, min_support, features, tag_groups, columns.w)

    def compute() -> dict[str, Any]:
        return {**analyse(columns, features=features, tag_groups=tag_groups, min_support=min_support),
                "skipped_features": skipped}

    columns.analyses[memo] = compute() if key is None else _analyses.get_or_compute(key, compute)
    return columns.analyses[memo]


ANALYSIS_CACHE_S = 600
# Shared only: an analysis is large, and the next grid an analyst opens may be served by another process.
_analyses: TwoLevelCache[dict[str, Any]] = TwoLevelCache("attribution analyses", local_s=0,
                                                         shared_s=ANALYSIS_CACHE_S)


def _analysis_key(frame: pd.DataFrame, min_support: int, features: list[str], tag_groups: list[str],
                  weights: np.ndarray | None = None) -> str | None:
    if not {"decision_id", "user_id", "clicked", "variant_id"} <= set(frame.columns):
        return None
    import hashlib

    content = pd.util.hash_pandas_object(frame[["decision_id", "user_id", "clicked", "variant_id"]].astype(str), index=False)
    digest = hashlib.sha256(content.to_numpy().tobytes())
    total = (_weights(frame) if weights is None else weights).sum()
    digest.update(repr((min_support, features, tag_groups, total)).encode())
    return f"kaleido:attribution:v2:{digest.hexdigest()}"


_RELATIVE_FIELDS = ("relative_preference", "relative_preference_ci", "rest_normalized_preference", "aliased_with")

MARGINAL_NOTE = ("normalized_preference, p_value and q_value are the marginal view: CTR(tag, segment) / CTR(segment) "
                 "against the rest of the segment, BH within this grid. It also carries the tag's effect on "
                 "everyone, so a tag all users like looks preferred by every segment. Findings use "
                 "relative_preference: how much more the segment favours the tag over its group's other values "
                 "than everyone else does (an odds ratio of odds ratios), "
                 "FDR-controlled over every feature × tag group.")


def attribution_grid(*, placement: Placement, segment: str, tag_group: str, buckets: list[str] | None = None,
                     min_support: int | None = None, days: int | None = None,
                     frame: pd.DataFrame | None = None, columns: _Columns | None = None) -> dict[str, Any]:
    """The grid of one user feature × one tag group: each cell's marginal normalized preference and its
    relative preference (against everyone else), and the findings of the pooled list that are in this grid.

    Raises HighCardinalityFeature when `segment` has more than KALEIDO_SEGMENT_MAX_LEVELS values (numbers
    are binned first, so only text features can): a grid of near one-user segments says nothing. The
    features the pooled list leaves out for the same reason are in `skipped_features`.

    `columns` (the _Columns of a frame already read) lets many grids of one frame share its columns and
    its pooled analysis (analytics.attribution_snapshots computes every grid of a placement that way)."""
    buckets = buckets or ["random"]
    min_support = min_support or settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT
    if columns is not None:
        frame = columns.frame
    frame = impression_frame(placement=placement, buckets=buckets, days=days) if frame is None else frame
    columns = columns or _Columns(frame)
    limit = max_segment_levels()
    if len(frame) and columns.levels(segment) > limit:
        raise HighCardinalityFeature(_skip_reason(segment, columns.levels(segment), limit))
    cells = _cells(columns, segment, tag_group, min_support) if len(frame) else []
    findings: list[dict] = []
    explained: list[dict] = []
    notes: list[str] = []
    aliases: list[list[str]] = []
    skipped: list[dict] = []
    if len(frame):
        skipped = columns.bounded(columns.feature_names(), limit)[1]
    if cells:
        features = sorted(set(columns.feature_names()) | {segment})
        groups = sorted(set(columns.group_names()) | {tag_group})
        analysis = preference_analysis(frame=frame, min_support=min_support, features=features, tag_groups=groups,
                                       columns=columns, max_levels=limit)
        relative = {(c["segment_value"], c["tag_value"]): c for c in analysis["grids"].get((segment, tag_group), [])}
        for cell in cells:
            found = relative.get((cell["segment_value"], cell["tag_value"]), {})
            for name in _RELATIVE_FIELDS:
                cell[name] = found.get(name, [None, None] if name.endswith("_ci") else [] if name == "aliased_with"
                                       else None)
            cell["relative_p_value"] = found.get("p_value")
            cell["relative_q_value"] = found.get("q_value")
        findings = [f for f in analysis["findings"] if f["segment_feature"] == segment
                    and any(t["group"] == tag_group for t in f["tags"])]
        explained = [f for f in analysis.get("explained_by_other_features", []) if f["segment_feature"] == segment
                     and any(t["group"] == tag_group for t in f["tags"])]
        aliases = [a for a in analysis["aliases"] if any(k.split("=", 1)[0] == tag_group for k in a)]
        for alias in aliases:
            notes.append(f"{' and '.join(alias)} are always shown together: their effects cannot be told apart, "
                         f"so their cells are the same numbers and findings name them together. See "
                         f"/api/v1/placements/{placement.slug}/identifiability for the material that would "
                         f"separate them.")
    return {"placement": placement.slug, "segment": segment, "tag_group": tag_group, "buckets": buckets,
            "weighting": "none" if set(buckets) <= {"random"} else "inverse_propensity",
            "impressions": int(len(frame)), "min_support": min_support, "cells": cells, "findings": findings,
            "marginal_findings": _adjust_and_find(cells), "explained_findings": explained,
            "aliases": aliases, "notes": notes, "skipped_features": skipped,
            "method": MARGINAL_NOTE}


def top_findings(*, placement: Placement, features: list[str] | None = None, tag_groups: list[str] | None = None,
                 buckets: list[str] | None = None, min_support: int | None = None, days: int | None = None,
                 frame: pd.DataFrame | None = None) -> list[dict]:
    """Findings over every user feature × tag group: segments whose preference for a tag differs from
    everyone else's, FDR-controlled over the pooled list (analytics.findings), strongest first."""
    buckets = buckets or ["random"]
    min_support = min_support or settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT
    frame = impression_frame(placement=placement, buckets=buckets, days=days) if frame is None else frame
    if frame.empty:
        return []
    return preference_analysis(frame=frame, min_support=min_support, features=features,
                               tag_groups=tag_groups)["findings"]
