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
    """
    return interaction_log.impression_frame(placement=placement, buckets=buckets, days=days, limit=limit)


def numeric_edges(name: str, values: pd.Series) -> list[float]:
    """Readable band edges: the usual age bands, else quintile edges rounded to two significant digits."""
    if name.lower() == "age":
        return AGE_EDGES
    qs = np.nanquantile(values.astype(float), [0.2, 0.4, 0.6, 0.8])
    edges = []
    for q in qs:
        if q <= 0:
            rounded = 0.0
        else:
            digits = -int(math.floor(math.log10(abs(q)))) + 1
            rounded = round(float(q), digits)
        if values.dropna().astype(float).apply(float.is_integer).all():
            rounded = float(math.ceil(q))
        if not edges or rounded > edges[-1]:
            edges.append(rounded)
    return edges or [float(values.median())]


def segment_column(frame: pd.DataFrame, feature: str) -> pd.Series:
    """Each impression's segment value for `feature` (numbers binned into readable bands)."""
    raw = frame["features"].map(lambda f: f.get(feature) if isinstance(f, dict) else None)
    numeric = raw.map(is_numeric)
    if numeric.any() and numeric[raw.notna()].all():
        values = raw[numeric].astype(float)
        edges = numeric_edges(feature, values)
        # Labels carry the bands' real bounds: closed integer bands for counts, half-open for the rest.
        integer = bool(np.all(np.mod(values.to_numpy(), 1) == 0))
        labels = np.array(band_labels(edges, integer=integer), dtype=object)
        out = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        out[numeric] = labels[np.searchsorted(np.asarray(edges, dtype=float), values.to_numpy(), side="right")]
        return out
    return raw.map(lambda v: None if v is None else ("true" if v is True else "false" if v is False else str(v)))


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
        self._segments: dict[str, pd.Series] = {}
        self._groups: dict[str, pd.Series] = {}

    def segment(self, feature: str) -> pd.Series:
        if feature not in self._segments:
            self._segments[feature] = segment_column(self.frame, feature)
        return self._segments[feature]

    def group(self, group: str) -> pd.Series:
        if group not in self._groups:
            self._groups[group] = self.frame["tags"].map(lambda t: (t or {}).get(group) or [])
        return self._groups[group]


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


def _frame_features(frame: pd.DataFrame) -> list[str]:
    return sorted({k for f in frame["features"] if isinstance(f, dict) for k in f})


def _frame_groups(frame: pd.DataFrame) -> list[str]:
    return sorted({g for t in frame["tags"] for g in (t or {})})


def preference_analysis(*, frame: pd.DataFrame, min_support: int, features: list[str] | None = None,
                        tag_groups: list[str] | None = None, columns: _Columns | None = None) -> dict[str, Any]:
    """Relative preferences of every feature × tag group of `frame`, FDR-controlled as one pooled list
    (see analytics.findings). Cached by the frame's content: an analyst reading grid after grid of one
    placement pays for the pooled analysis once, and new impressions change the key."""
    from .findings import analyse

    features = features or _frame_features(frame)
    tag_groups = tag_groups or _frame_groups(frame)
    key = _analysis_key(frame, min_support, features, tag_groups)

    def compute() -> dict[str, Any]:
        return analyse(columns or _Columns(frame), features=features, tag_groups=tag_groups, min_support=min_support)

    if key is None:
        return compute()
    return _analyses.get_or_compute(key, compute)


ANALYSIS_CACHE_S = 600
# Shared only: an analysis is large, and the next grid an analyst opens may be served by another process.
_analyses: TwoLevelCache[dict[str, Any]] = TwoLevelCache("attribution analyses", local_s=0,
                                                         shared_s=ANALYSIS_CACHE_S)


def _analysis_key(frame: pd.DataFrame, min_support: int, features: list[str], tag_groups: list[str]) -> str | None:
    if not {"decision_id", "user_id", "clicked", "variant_id"} <= set(frame.columns):
        return None
    import hashlib

    content = pd.util.hash_pandas_object(frame[["decision_id", "user_id", "clicked", "variant_id"]].astype(str), index=False)
    digest = hashlib.sha256(content.to_numpy().tobytes())
    digest.update(repr((min_support, features, tag_groups, _weights(frame).sum())).encode())
    return f"kaleido:attribution:v1:{digest.hexdigest()}"


_RELATIVE_FIELDS = ("relative_preference", "relative_preference_ci", "rest_normalized_preference", "aliased_with")

MARGINAL_NOTE = ("normalized_preference, p_value and q_value are the marginal view: CTR(tag, segment) / CTR(segment) "
                 "against the rest of the segment, BH within this grid. It also carries the tag's effect on "
                 "everyone, so a tag all users like looks preferred by every segment. Findings use "
                 "relative_preference: how much more the segment favours the tag over its group's other values "
                 "than everyone else does (an odds ratio of odds ratios), "
                 "FDR-controlled over every feature × tag group.")


def attribution_grid(*, placement: Placement, segment: str, tag_group: str, buckets: list[str] | None = None,
                     min_support: int | None = None, days: int | None = None,
                     frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The grid of one user feature × one tag group: each cell's marginal normalized preference and its
    relative preference (against everyone else), and the findings of the pooled list that are in this grid."""
    buckets = buckets or ["random"]
    min_support = min_support or settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT
    frame = impression_frame(placement=placement, buckets=buckets, days=days) if frame is None else frame
    columns = _Columns(frame)
    cells = _cells(columns, segment, tag_group, min_support) if len(frame) else []
    findings: list[dict] = []
    explained: list[dict] = []
    notes: list[str] = []
    aliases: list[list[str]] = []
    if cells:
        features = sorted(set(_frame_features(frame)) | {segment})
        groups = sorted(set(_frame_groups(frame)) | {tag_group})
        analysis = preference_analysis(frame=frame, min_support=min_support, features=features, tag_groups=groups,
                                       columns=columns)
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
            "aliases": aliases, "notes": notes,
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
