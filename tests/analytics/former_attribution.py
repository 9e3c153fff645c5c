"""The attribution statistics as they were first defined, row by row: the reference the fast path is
compared with (tests/analytics/test_attribution_at_scale.py). Not used by the application.

- `segment_column`: each row's feature value looked up, tested and labelled on its own;
- `relative_cells`: the cluster-robust variance from dense per-user × segment × tag arrays, i.e. the sum
  over users of each user's squared influence written out literally.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics import stats
from analytics.attribution import numeric_edges
from analytics.segments import band_labels, is_numeric


def segment_column(frame: pd.DataFrame, feature: str) -> pd.Series:
    # Kept as objects: pandas 3 infers a text column from text and None, and its NaN for None then read
    # "nan", a segment of the rows without the feature (the former code's one difference, fixed).
    raw = pd.Series([f.get(feature) if isinstance(f, dict) else None for f in frame["features"]],
                    index=frame.index, dtype=object)
    numeric = raw.map(is_numeric)
    if numeric.any() and numeric[raw.notna()].all():
        values = raw[numeric].astype(float)
        edges = numeric_edges(feature, values)
        integer = bool(np.all(np.mod(values.to_numpy(), 1) == 0))
        labels = np.array(band_labels(edges, integer=integer), dtype=object)
        out = pd.Series([None] * len(raw), index=raw.index, dtype=object)
        out[numeric] = labels[np.searchsorted(np.asarray(edges, dtype=float), values.to_numpy(), side="right")]
        return out
    return raw.map(lambda v: None if v is None else ("true" if v is True else "false" if v is False else str(v)))


def relative_cells(users: np.ndarray, segments: tuple[np.ndarray, list[str]],
                   tags: tuple[np.ndarray, np.ndarray, list[str]], y: np.ndarray, w: np.ndarray,
                   *, feature: str, group: str, min_support: int) -> list[dict]:
    seg_all, seg_values = segments
    tag_rows, tag_codes, tag_values = tags
    ok = (seg_all >= 0) & np.isfinite(w)
    keep = ok[tag_rows] if len(tag_rows) else np.zeros(0, dtype=bool)
    if not ok.any() or not keep.any():
        return []
    weights = np.where(ok, w, 0.0)
    clicks = weights * y
    ones = ok.astype(float)
    seg_code = np.where(ok, seg_all, 0)
    row, tag_code = tag_rows[keep], tag_codes[keep]
    S, T, U = len(seg_values), len(tag_values), int(users.max()) + 1
    n_users = len(np.unique(users[ok]))

    def by(index, values, size):
        return np.bincount(index, weights=values, minlength=size).astype(float)

    n_s, c_s, k_s = by(seg_code, weights, S), by(seg_code, clicks, S), by(seg_code, ones, S)
    cell = seg_code[row] * T + tag_code
    n_st = by(cell, weights[row], S * T).reshape(S, T)
    c_st = by(cell, clicks[row], S * T).reshape(S, T)
    k_st = by(cell, ones[row], S * T).reshape(S, T)
    clicks_st = by(cell, (y * ones)[row], S * T).reshape(S, T)
    n, c = n_s.sum(), c_s.sum()
    n_t, c_t, k_t = n_st.sum(0), c_st.sum(0), k_st.sum(0)
    n_rs, c_rs = n - n_s, c - c_s
    n_rst, c_rst = n_t[None, :] - n_st, c_t[None, :] - c_st
    n_sn, c_sn = n_s[:, None] - n_st, c_s[:, None] - c_st
    n_rn, c_rn = (n - n_s)[:, None] - n_rst, (c - c_s)[:, None] - c_rst
    k_sn, k_rn = k_s[:, None] - k_st, (k_s.sum() - k_s)[:, None] - (k_t[None, :] - k_st)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_st, q_sn, q_rst, q_rn = c_st / n_st, c_sn / n_sn, c_rst / n_rst, c_rn / n_rn
        q_s, q_rs = c_s[:, None] / n_s[:, None], c_rs[:, None] / n_rs[:, None]
        log_ratio = (np.log(q_st) - np.log1p(-q_st)) - (np.log(q_sn) - np.log1p(-q_sn)) \
            - (np.log(q_rst) - np.log1p(-q_rst)) + (np.log(q_rn) - np.log1p(-q_rn))
        a, b, d, e = 1 / (c_st * (1 - q_st)), 1 / (c_sn * (1 - q_sn)), 1 / (c_rst * (1 - q_rst)), 1 / (c_rn * (1 - q_rn))
    valid = (np.isfinite(log_ratio) & (c_st > 0) & (c_sn > 0) & (c_rst > 0) & (c_rn > 0)
             & (q_st < 1) & (q_sn < 1) & (q_rst < 1) & (q_rn < 1))
    with np.errstate(invalid="ignore"):
        coef = {"c_st": a + b + d + e, "n_st": -(a * q_st + b * q_sn + d * q_rst + e * q_rn),
                "c_s": -(b + e), "n_s": b * q_sn + e * q_rn, "c_t": -(d + e), "n_t": d * q_rst + e * q_rn,
                "c": e, "n": -e * q_rn}
    coef = {k: np.where(valid, v, 0.0) for k, v in coef.items()}
    # Every user's sums at every level, dense: users × segments × tags.
    un_s = by(users * S + seg_code, weights, U * S).reshape(U, S)
    uc_s = by(users * S + seg_code, clicks, U * S).reshape(U, S)
    flat = users[row] * (S * T) + seg_code[row] * T + tag_code
    un_st = by(flat, weights[row], U * S * T).reshape(U, S, T)
    uc_st = by(flat, clicks[row], U * S * T).reshape(U, S, T)
    un_t, uc_t, un, uc = un_st.sum(1), uc_st.sum(1), un_s.sum(1), uc_s.sum(1)
    influence = (coef["c_st"] * uc_st + coef["n_st"] * un_st
                 + coef["c_t"] * uc_t[:, None, :] + coef["n_t"] * un_t[:, None, :]
                 + coef["c_s"] * uc_s[:, :, None] + coef["n_s"] * un_s[:, :, None]
                 + coef["c"] * uc[:, None, None] + coef["n"] * un[:, None, None])
    variance = (influence ** 2).sum(0) * n_users / max(n_users - 1, 1)
    out = []
    for s, segment in enumerate(seg_values):
        for t, tag in enumerate(tag_values):
            supported = bool(valid[s, t] and min(k_st[s, t], k_t[t] - k_st[s, t], k_sn[s, t], k_rn[s, t]) >= min_support
                             and variance[s, t] > 0)
            ratio = math.exp(log_ratio[s, t]) if valid[s, t] else None
            ci = [None, None]
            p_value = None
            if supported:
                se = math.sqrt(variance[s, t])
                ci = [math.exp(log_ratio[s, t] - stats.Z95 * se), math.exp(log_ratio[s, t] + stats.Z95 * se)]
                p_value = float(2 * stats.sps.norm.sf(abs(log_ratio[s, t]) / se))
            seg_pref = q_st[s, t] / q_s[s, 0] if valid[s, t] else None
            rest_pref = q_rst[s, t] / q_rs[s, 0] if valid[s, t] else None
            out.append({
                "segment_feature": feature, "segment_value": str(segment), "tag_group": group, "tag_value": tag,
                "impressions": int(k_st[s, t]), "clicks": int(clicks_st[s, t]),
                "segment_impressions": int(k_s[s]), "rest_impressions": int(k_t[t] - k_st[s, t]),
                "normalized_preference": _f(seg_pref), "rest_normalized_preference": _f(rest_pref),
                "relative_preference": _f(ratio), "relative_preference_ci": [_f(ci[0]), _f(ci[1])],
                "p_value": p_value, "supported": supported, "segments_in_grid": S,
            })
    return out


def _f(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
