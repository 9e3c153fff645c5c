"""Findings: segments whose preference for a tag differs from everyone else's.

A segment s "prefers" tag t when it favours t over the group's other values more than the rest of the
population does. The relative preference is that interaction, on the odds scale:

    relative preference = odds ratio(t vs not t | s) / odds ratio(t vs not t | rest)

(the user × tag pair term of a logistic model fitted on random-bucket data with the segment and the
tag). At banner CTRs odds are CTRs, so it reads "the segment's CTR on t against its other values is r×
everyone else's". A tag every user likes has relative preference 1 in every segment, and so has every
cell of a user feature that carries no preference; each segment's own click level cancels too. Unlike
the normalized preference CTR(t, s) / CTR(s), it is not bounded by the group's number of values (a
two-valued group's normalized preference can never exceed 2) and does not flatten at high CTRs.

Interval: the log of the relative preference is a smooth function of four disjoint ratio-of-sums; its variance
is the sum over users of the squared per-user influence (a cluster-robust sandwich), because the clicks
of one user are correlated. A user whose features drift contributes to each segment they were in.

Multiplicity, over every cell that can reach the pooled list:
1. each feature × tag-group grid gets a family p-value, Bonferroni over its tested cells (valid under any
   dependence), and the grids are screened with Holm at FAMILY_ALPHA: the chance that any grid of a
   feature without preference reaches the list is at most 5%, however the cells depend on each other;
2. the cells of the screened grids are pooled and Benjamini–Hochberg runs over all of them at level
   FDR × R / m (R screened grids of m; Benjamini & Bogomolov 2014), so the pooled list controls the FDR.
A finding must also matter: at least MIN_EFFECT away from 1.

Aliasing: tag values that are present on exactly the same impressions cannot be told apart by any
method; their cells are tested once (under the first of them) and the finding names them together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .segments import band_order, segment_phrase

FDR = 0.05
FAMILY_ALPHA = 0.05
MIN_EFFECT = 0.10


def tag_key(group: str, value: str) -> str:
    return f"{group}={value}"


def aliased_tag_sets(tags: pd.Series) -> list[list[tuple[str, str]]]:
    """Sets of two or more (group, value) pairs that are present on exactly the same impressions."""
    rows: dict[tuple[str, str], list[int]] = {}
    for i, served in enumerate(tags):
        for group, values in (served or {}).items():
            for value in values or []:
                rows.setdefault((group, str(value)), []).append(i)
    by_signature: dict[tuple[int, ...], list[tuple[str, str]]] = {}
    for key, positions in rows.items():
        by_signature.setdefault(tuple(positions), []).append(key)
    return [sorted(keys) for keys in by_signature.values() if len(keys) > 1]


def encode_segments(seg: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's segment as a code into the sorted segment values (-1: no value)."""
    present = seg.notna().to_numpy()
    text = seg[present].astype(str)
    values = sorted(text.unique(), key=lambda v: (band_order(v), v))
    codes = np.full(len(seg), -1, dtype=np.int64)
    codes[present] = pd.Categorical(text, categories=values).codes
    return codes, values


def encode_tags(tag_lists: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(row, tag code) of every tag value an impression was served with, and the sorted tag values."""
    exploded = pd.Series(list(tag_lists), dtype=object).explode().dropna().astype(str)
    values = sorted(exploded.unique())
    rows = exploded.index.to_numpy(dtype=np.int64)
    return rows, pd.Categorical(exploded, categories=values).codes.astype(np.int64), values


# The most profile × tag-value entries one block of the per-user variance holds at a time: the sums are
# accumulated block by block (a user's profiles are never split), so memory stays bounded however many
# users the rows have (200,000 rows of one user each × 60 tag values would be 12 M entries per array).
_BLOCK_ENTRIES = 1_000_000


class Profiles:
    """The rows of one analysis summed by profile: a user together with the segment the row falls in for
    every feature (a user whose features never change is one profile). Every per-user and per-cell sum the
    grids need is a sum over profiles, so each grid costs in profiles × tag values, not in rows; the
    per-profile tag sums are kept sparse (the tag values a profile was served), never a dense profiles ×
    tag values table, and the per-user sums are formed in blocks of users (`_BLOCK_ENTRIES`).

    `users`: each row's user code (0 … U-1); `segments`: feature -> encode_segments of the rows; `w`:
    weights (rows with a non-finite weight are left out); `tags`: group -> encode_tags.
    Profiles are numbered in user order, so the profiles of one user are consecutive."""

    def __init__(self, users: np.ndarray, segments: dict[str, tuple[np.ndarray, list[str]]],
                 tags: dict[str, tuple[np.ndarray, np.ndarray, list[str]]], y: np.ndarray, w: np.ndarray):
        usable = np.isfinite(w)
        key = users.astype(np.int64)
        for codes, _values in segments.values():  # one factorize per feature: codes stay small
            key = pd.factorize(key * (len(_values) + 1) + (codes + 1))[0].astype(np.int64)
        key = np.where(usable, key, -1)
        present = key >= 0
        self.code = np.full(len(key), -1, dtype=np.int64)
        profile, first, inverse = np.unique(key[present], return_index=True, return_inverse=True)
        row = np.flatnonzero(present)[first]  # a row of each profile: its user and segments
        by_user = np.argsort(users[row], kind="stable")  # profile number -> in user order
        rank = np.empty(len(profile), dtype=np.int64)
        rank[by_user] = np.arange(len(profile))
        self.code[present] = rank[inverse.ravel()]
        self.row = row[by_user]
        P = len(profile)
        weights = np.where(usable, w, 0.0)
        rows = np.flatnonzero(present)
        at = self.code[rows]
        self.size = P
        self.user = users[self.row].astype(np.int64)
        self.n = np.bincount(at, weights=weights[rows], minlength=P)
        self.c = np.bincount(at, weights=(weights * y)[rows], minlength=P)
        self.k = np.bincount(at, minlength=P).astype(float)
        self.segments = segments
        # Every tag group's values side by side as columns (a cell's statistics involve its own tag value
        # and the segment's totals only, so all groups of a feature are computed in one pass); the sums of
        # each (profile, column) a profile has, sorted by profile.
        self.tag_slices: dict[str, slice] = {}
        flat_parts: list[np.ndarray] = []
        row_parts: list[np.ndarray] = []
        start = 0
        for group, (tag_rows, tag_codes, tag_values) in tags.items():
            T = len(tag_values)
            in_profile = self.code[tag_rows] >= 0 if len(tag_rows) else np.zeros(0, dtype=bool)
            r = tag_rows[in_profile]
            row_parts.append(r)
            flat_parts.append(start + tag_codes[in_profile])
            self.tag_slices[group] = slice(start, start + T)
            start += T
        self.columns = start
        r = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
        column = np.concatenate(flat_parts) if flat_parts else np.zeros(0, dtype=np.int64)
        entry_key, entry_of = np.unique(self.code[r] * max(start, 1) + column, return_inverse=True)
        entry_of = entry_of.ravel()
        E = len(entry_key)
        self.tag_profile, self.tag_column = entry_key // max(start, 1), entry_key % max(start, 1)
        self.tag_n, self.tag_c, self.tag_k, self.tag_y = (
            np.bincount(entry_of, weights=values, minlength=E)
            for values in (weights[r], (weights * y)[r], np.ones(len(r)), y[r].astype(float)))

    def tag_sums(self, profiles: np.ndarray, local: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense (n, c) sums of the given profiles (sorted, consecutive in user order) × the columns that
        `local` maps to 0 … T-1 (-1: not asked for)."""
        if not len(profiles):
            return np.zeros((0, T)), np.zeros((0, T))
        lo, hi = np.searchsorted(self.tag_profile, [profiles[0], profiles[-1] + 1])
        prof, col = self.tag_profile[lo:hi], local[self.tag_column[lo:hi]]
        at = np.searchsorted(profiles, prof)
        keep = (col >= 0) & (at < len(profiles))
        keep[keep] = profiles[at[keep]] == prof[keep]
        flat = at[keep] * T + col[keep]
        size = len(profiles) * T
        return (np.bincount(flat, weights=self.tag_n[lo:hi][keep], minlength=size).reshape(-1, T),
                np.bincount(flat, weights=self.tag_c[lo:hi][keep], minlength=size).reshape(-1, T))


def relative_cells(profiles: Profiles, tags: tuple[np.ndarray, np.ndarray, list[str]], *, feature: str, group: str,
                   min_support: int) -> list[dict]:
    """Every segment × tag cell of one grid with its relative preference, interval and p-value."""
    return grids_of_feature(profiles, {group: tags}, feature=feature, min_support=min_support)[group]


def grids_of_feature(profiles: Profiles, tags: dict[str, tuple[np.ndarray, np.ndarray, list[str]]], *, feature: str,
                     min_support: int) -> dict[str, list[dict]]:
    """relative_cells of `feature` with every tag group of `tags`, in one pass over the profiles."""
    seg_all, seg_values = profiles.segments[feature]
    groups = list(tags)
    columns = np.concatenate([np.arange(profiles.tag_slices[g].start, profiles.tag_slices[g].stop) for g in groups]) \
        if groups else np.zeros(0, dtype=np.int64)
    S, T = len(seg_values), len(columns)
    empty: dict[str, list[dict]] = {g: [] for g in groups}
    if not profiles.size or not T:
        return empty
    seg_p = seg_all[profiles.row]
    ok = seg_p >= 0
    if not ok.any():
        return empty
    local = np.full(profiles.columns, -1, dtype=np.int64)  # a tag column -> its place among this grid's T
    local[columns] = np.arange(T)
    seg, user = seg_p[ok], profiles.user[ok]
    n_p, c_p, k_p = profiles.n[ok], profiles.c[ok], profiles.k[ok]

    def by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(index.ravel(), weights=values.ravel(), minlength=size).astype(float)

    # The cell totals, from the sparse (profile, tag value) sums.
    entry_col = local[profiles.tag_column]
    entry_ok = ok[profiles.tag_profile] & (entry_col >= 0)
    cell_of = seg_p[profiles.tag_profile[entry_ok]] * T + entry_col[entry_ok]
    n_s, c_s, k_s = by(seg, n_p, S), by(seg, c_p, S), by(seg, k_p, S)
    n_st, c_st, k_st, clicks_st = (by(cell_of, values[entry_ok], S * T).reshape(S, T)
                                   for values in (profiles.tag_n, profiles.tag_c, profiles.tag_k, profiles.tag_y))
    n, c = n_s.sum(), c_s.sum()
    n_t, c_t, k_t = n_st.sum(0), c_st.sum(0), k_st.sum(0)
    n_rs, c_rs = n - n_s, c - c_s
    n_rst, c_rst = n_t[None, :] - n_st, c_t[None, :] - c_st
    # Four disjoint cells: (s, t), (s, not t), (rest, t), (rest, not t).
    n_sn, c_sn = n_s[:, None] - n_st, c_s[:, None] - c_st
    n_rn, c_rn = (n - n_s)[:, None] - n_rst, (c - c_s)[:, None] - c_rst
    k_sn, k_rn = k_s[:, None] - k_st, (k_s.sum() - k_s)[:, None] - (k_t[None, :] - k_st)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_st, q_sn, q_rst, q_rn = c_st / n_st, c_sn / n_sn, c_rst / n_rst, c_rn / n_rn
        q_s, q_rs = c_s[:, None] / n_s[:, None], c_rs[:, None] / n_rs[:, None]
        # The interaction on the log-odds scale (what a logistic model's user × tag pair term estimates):
        # at banner CTRs it reads as a ratio of CTRs, and unlike one it does not flatten near high CTRs.
        log_ratio = _logit(q_st) - _logit(q_sn) - _logit(q_rst) + _logit(q_rn)
        # d log-odds(C/N) = (c_i - q n_i) / (C (1 - q)) per user
        a, b, d, e = 1 / (c_st * (1 - q_st)), 1 / (c_sn * (1 - q_sn)), 1 / (c_rst * (1 - q_rst)), 1 / (c_rn * (1 - q_rn))
    valid = (np.isfinite(log_ratio) & (c_st > 0) & (c_sn > 0) & (c_rst > 0) & (c_rn > 0)
             & (q_st < 1) & (q_sn < 1) & (q_rst < 1) & (q_rn < 1))
    # u_i = Σ coefficient × the user's sums at each level: the influence of user i on log_ratio, from
    # c(s,t), c(s)-c(s,t), c(t)-c(s,t) and c-c(s)-c(t)+c(s,t) (likewise n).
    with np.errstate(invalid="ignore"):  # an empty cell's inf × 0 is NaN; `valid` zeroes those cells
        coef = {
            "c_st": a + b + d + e, "n_st": -(a * q_st + b * q_sn + d * q_rst + e * q_rn),
            "c_s": -(b + e), "n_s": b * q_sn + e * q_rn, "c_t": -(d + e), "n_t": d * q_rst + e * q_rn,
            "c": e, "n": -e * q_rn,
        }
    coef = {k: np.where(valid, v, 0.0) for k, v in coef.items()}
    variance = np.zeros((S, T))
    profile_of = np.flatnonzero(ok)  # sorted and in user order: a user's profiles are consecutive
    per_block = max(1, _BLOCK_ENTRIES // T)
    begin = 0
    while begin < len(profile_of):
        end = min(begin + per_block, len(profile_of))
        end = int(np.searchsorted(user, user[end - 1], side="right"))  # never split a user's profiles
        n_pt, c_pt = profiles.tag_sums(profile_of[begin:end], local, T)
        block_user = np.concatenate([[0], np.cumsum(np.diff(user[begin:end]) != 0)])  # 0 … users in block
        variance += _sum_of_squared_influences(coef, block_user, seg[begin:end], n_p[begin:end],
                                               c_p[begin:end], n_pt, c_pt, S, T)
        begin = end
    variance = np.maximum(variance, 0.0)  # a sum of squares: rounding below zero is zero
    n_users = len(np.unique(user))
    variance *= n_users / max(n_users - 1, 1)
    se = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_values = 2 * stats.sps.norm.sf(np.abs(log_ratio) / se)
    out: dict[str, list[dict]] = {}
    offset = 0
    for group in groups:
        tag_values = tags[group][2]
        width = len(tag_values)
        cells: list[dict] = []
        out[group] = cells
        if not k_t[offset:offset + width].any():  # no impression of this group among the rows
            offset += width
            continue
        for s, segment in enumerate(seg_values):
            for j, tag in enumerate(tag_values):
                t = offset + j
                supported = bool(valid[s, t] and min(k_st[s, t], k_t[t] - k_st[s, t], k_sn[s, t], k_rn[s, t])
                                 >= min_support and variance[s, t] > 0)
                ratio = math.exp(log_ratio[s, t]) if valid[s, t] else None
                ci: list[float | None] = [None, None]
                p_value = None
                if supported:
                    ci = [math.exp(log_ratio[s, t] - stats.Z95 * se[s, t]),
                          math.exp(log_ratio[s, t] + stats.Z95 * se[s, t])]
                    p_value = float(p_values[s, t])
                seg_pref = q_st[s, t] / q_s[s, 0] if valid[s, t] else None
                rest_pref = q_rst[s, t] / q_rs[s, 0] if valid[s, t] else None
                cells.append({
                    "segment_feature": feature, "segment_value": str(segment), "tag_group": group, "tag_value": tag,
                    "impressions": int(k_st[s, t]), "clicks": int(clicks_st[s, t]),
                    "segment_impressions": int(k_s[s]), "rest_impressions": int(k_t[t] - k_st[s, t]),
                    "normalized_preference": _f(seg_pref), "rest_normalized_preference": _f(rest_pref),
                    "relative_preference": _f(ratio), "relative_preference_ci": [_f(ci[0]), _f(ci[1])],
                    "p_value": p_value, "supported": supported, "segments_in_grid": S,
                })
        offset += width
    return out


# The eight per-user sums a user's influence on a cell (s, t) is made of, each with its level: the user's
# (s, t) cell, their tag t, their segment s, their total.
_TERMS = (("c_st", "st", 0), ("n_st", "st", 1), ("c_t", "t", 0), ("n_t", "t", 1), ("c_s", "s", 0),
          ("n_s", "s", 1), ("c", "g", 0), ("n", "g", 1))


def _sum_of_squared_influences(coef: dict[str, np.ndarray], user: np.ndarray, seg: np.ndarray, n_p: np.ndarray,
                               c_p: np.ndarray, n_pt: np.ndarray, c_pt: np.ndarray, S: int, T: int) -> np.ndarray:
    """Σ over the given users of influence_u(s, t)², for every cell at once (the profiles of a block of
    whole users: blocks' sums add up).

    influence_u(s, t) = Σ_a coef_a(s, t) · x_a(u, s, t) over the eight sums x of _TERMS, so its square
    summed over users is Σ_a Σ_b coef_a coef_b · M_ab(s, t) with M_ab = Σ_u x_a x_b: second moments of the
    users' sums, each a sum over what a user has (their segments, their tags, their cells, or a scalar), so
    the cost is linear in the users' profiles, never users × cells."""
    # The user's (segment) entries: profiles of one user in one segment summed.
    us_key = user * S + seg
    us_keys, us_of_profile = np.unique(us_key, return_inverse=True)
    us_user, us_seg = us_keys // S, us_keys % S
    E = len(us_keys)
    U = int(us_user.max()) + 1 if E else 0

    def by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(index.ravel(), weights=values.ravel(), minlength=size)

    x_s = (by(us_of_profile, c_p, E), by(us_of_profile, n_p, E))  # (E,)
    x_st = (by(us_of_profile[:, None] * T + np.arange(T), c_pt, E * T).reshape(E, T),
            by(us_of_profile[:, None] * T + np.arange(T), n_pt, E * T).reshape(E, T))  # (E, T)
    x_g = (by(us_user, x_s[0], U), by(us_user, x_s[1], U))  # (U,)
    x_t = (by(us_user[:, None] * T + np.arange(T), x_st[0], U * T).reshape(U, T),
           by(us_user[:, None] * T + np.arange(T), x_st[1], U * T).reshape(U, T))  # (U, T)
    cells = us_seg[:, None] * T + np.arange(T)  # each (user, segment) entry's row of cells
    x_t_of_entry = (x_t[0][us_user], x_t[1][us_user])  # (E, T): the entry's user's tag sums
    x_g_of_entry = (x_g[0][us_user], x_g[1][us_user])  # (E,)

    def moment(a: tuple[str, int], b: tuple[str, int]) -> np.ndarray:
        """M_ab(s, t), as an array that broadcasts to (S, T)."""
        (la, ia), (lb, ib) = sorted([a, b], key=lambda x: "st t s g".split().index(x[0]))
        pair = (la, lb)
        if la == "st":  # over the users' cells (s, t): the other sum is the same user's at its level
            other = (x_st[ib] if lb == "st" else x_t_of_entry[ib] if lb == "t" else x_s[ib][:, None] if lb == "s"
                     else x_g_of_entry[ib][:, None])
            return by(cells, x_st[ia] * other, S * T).reshape(S, T)
        if pair == ("t", "s"):  # a user's tag t with each of their segments s
            return by(cells, x_t_of_entry[ia] * x_s[ib][:, None], S * T).reshape(S, T)
        if la == "t":  # (t, t) or (t, g): one value per tag
            other = x_t[ib] if lb == "t" else x_g[ib][:, None]
            return (x_t[ia] * other).sum(0)[None, :]
        if la == "s":  # (s, s) or (s, g): one value per segment
            other = x_s[ib] if lb == "s" else x_g_of_entry[ib]
            return by(us_seg, x_s[ia] * other, S)[:, None]
        return np.array([[float((x_g[ia] * x_g[ib]).sum())]])

    variance = np.zeros((S, T))
    for i, (name_a, level_a, part_a) in enumerate(_TERMS):
        for name_b, level_b, part_b in _TERMS[i:]:
            term = coef[name_a] * coef[name_b] * moment((level_a, part_a), (level_b, part_b))
            variance += term if name_a == name_b else 2 * term
    return variance


def _logit(q: np.ndarray) -> np.ndarray:
    return np.log(q) - np.log1p(-q)


def _f(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _testable(cells: list[dict], alias_of: dict[tuple[str, str], tuple[str, str]]) -> list[dict]:
    """The cells that count as tests: supported, not a copy of an aliased tag's cell, and one of each set of
    mirrored cells. A feature with two segments, or a tag group with two values, makes cells that are the
    same test (ratio r and 1 / r: "true prefers X" is "false avoids X", "prefers regular" is "avoids
    large"); the one that prefers (ratio ≥ 1) is kept, the readable side."""
    tested = [c for c in cells if c["supported"] and c["p_value"] is not None
              and alias_of.get((c["tag_group"], c["tag_value"]), (c["tag_group"], c["tag_value"]))
              == (c["tag_group"], c["tag_value"])]
    kept: dict[tuple[float, float], dict] = {}
    for cell in tested:
        key = (round(cell["p_value"], 10), round(abs(math.log(cell["relative_preference"])), 8))
        if key not in kept or (cell["relative_preference"] >= 1 > kept[key]["relative_preference"]):
            kept[key] = cell
    return list(kept.values())


def analyse(columns: Any, *, features: Iterable[str], tag_groups: Iterable[str], min_support: int,
            fdr: float = FDR, family_alpha: float = FAMILY_ALPHA, min_effect: float = MIN_EFFECT) -> dict[str, Any]:
    """Relative-preference cells of every feature × tag group, screened and FDR-controlled as one list.

    `columns` is attribution's per-frame column cache (segment(feature), group(group), y, w, frame).
    Returns {"grids": {(feature, group): cells}, "findings": [...], "aliases": [...], "families": {...}}.
    """
    frame = columns.frame
    aliases = columns.aliased_tag_sets() if hasattr(columns, "aliased_tag_sets") else aliased_tag_sets(frame["tags"])
    alias_of = {key: keys[0] for keys in aliases for key in keys}
    alias_members = {keys[0]: keys for keys in aliases}
    users = (pd.factorize(frame["user_id"].astype(str))[0] if "user_id" in frame
             else np.arange(len(frame))).astype(np.int64)
    tag_groups = list(tag_groups)
    features = list(features)
    encoded_tags = {group: columns.encoded_tags(group) if hasattr(columns, "encoded_tags")
                    else encode_tags(columns.group(group).reset_index(drop=True)) for group in tag_groups}
    grids: dict[tuple[str, str], list[dict]] = {}
    families: list[dict] = []
    encoded_segments = {feature: columns.encoded_segment(feature) if hasattr(columns, "encoded_segment")
                        else encode_segments(columns.segment(feature).reset_index(drop=True)) for feature in features}
    profiles = Profiles(users, encoded_segments, encoded_tags, columns.y, columns.w)
    for feature in features:
        by_group = grids_of_feature(profiles, encoded_tags, feature=feature, min_support=min_support)
        for group in tag_groups:
            cells = by_group[group]
            for cell in cells:
                key = (cell["tag_group"], cell["tag_value"])
                cell["aliased_with"] = [tag_key(*k) for k in alias_members.get(alias_of.get(key, key), []) if k != key]
                cell["q_value"] = None
                cell["tested"] = False
            tested = _testable(cells, alias_of)
            for cell in tested:
                cell["tested"] = True
            grids[(feature, group)] = cells
            if tested:
                family_p = min(1.0, len(tested) * min(c["p_value"] for c in tested))
                families.append({"feature": feature, "tag_group": group, "tests": len(tested),
                                 "p_value": family_p, "cells": tested})
    holm = stats.holm([f["p_value"] for f in families]) if families else []
    selected = [f for f, adjusted in zip(families, holm, strict=True) if adjusted < family_alpha]
    for family, adjusted in zip(families, holm, strict=True):
        family["holm_p_value"] = float(adjusted)
        family["selected"] = bool(adjusted < family_alpha)
    pool = [c for f in selected for c in f["cells"]]
    if pool:
        # BH at level fdr × R / m over the pooled cells ⇔ q × m / R compared with fdr.
        scale = len(families) / len(selected)
        q = stats.benjamini_hochberg([c["p_value"] for c in pool])
        for cell, q_value in zip(pool, q, strict=True):
            cell["q_value"] = _f(min(1.0, q_value * scale))
    findings = [_finding(c, alias_members.get(alias_of.get((c["tag_group"], c["tag_value"])), []))
                for c in pool if c["q_value"] is not None and c["q_value"] < fdr
                and c["relative_preference"] and abs(c["relative_preference"] - 1) >= min_effect]
    findings.sort(key=lambda f: (-abs(math.log(f["relative_preference"])), f["q_value"]))
    accepted = [c["p_value"] for c in pool if c["q_value"] is not None and c["q_value"] < fdr]
    strata_cache: dict[str, np.ndarray] = {}

    def strata(feature: str) -> np.ndarray:
        if feature not in strata_cache:
            strata_cache[feature] = conditioning_strata(columns, feature)
        return strata_cache[feature]

    findings, explained = _without_confounded(findings, encoded_segments, encoded_tags, strata, columns.y,
                                              columns.w, p_cut=max(accepted) if accepted else 0.0)
    return {
        "grids": grids, "findings": findings, "explained_by_other_features": explained,
        "aliases": [[tag_key(*k) for k in keys] for keys in aliases],
        "families": [{k: v for k, v in f.items() if k != "cells"} for f in families],
        "families_tested": len(families), "families_selected": len(selected),
    }


def conditioning_strata(columns: Any, feature: str, bins: int = 20) -> np.ndarray:
    """Fine strata of a feature to condition on: up to `bins` quantile bins of a numeric feature (its
    readable bands are too coarse: a threshold inside a band leaves confounding behind), else its values."""
    from .segments import is_numeric

    raw = (columns.raw(feature) if hasattr(columns, "raw")
           else columns.frame["features"].map(lambda f: f.get(feature) if isinstance(f, dict) else None))
    numeric = raw.map(is_numeric)
    if numeric.any() and numeric[raw.notna()].all():
        values = pd.to_numeric(raw, errors="coerce")
        codes = pd.qcut(values.rank(method="first"), q=min(bins, max(1, int(values.notna().sum()))),
                        labels=False, duplicates="drop")
        return codes.fillna(-1).astype(np.int64).to_numpy()
    return pd.factorize(raw.astype(str))[0].astype(np.int64)


def _without_confounded(findings: list[dict], segments: dict[str, tuple[np.ndarray, list[str]]],
                        tags: dict[str, tuple[np.ndarray, np.ndarray, list[str]]], strata: Any, y: np.ndarray,
                        w: np.ndarray, *, p_cut: float) -> tuple[list[dict], list[dict]]:
    """Drop findings that another feature's findings about the same tag explain.

    A feature correlated with one that carries a preference (balance with age) inherits it in a marginal
    comparison. Each finding is re-tested within fine strata of every other feature with a finding on the
    same tag (a stratified interaction, inverse-variance weighted). It is dropped, and listed in
    `explained` with the feature that explains it, when it no longer passes the bar it passed (p ≤ p_cut,
    the pooled list's BH cutoff) while that feature's strongest finding on the tag still passes it within
    this feature's strata (or, when neither survives the other, is the stronger one)."""
    on_tag: dict[tuple[str, str], dict[str, dict]] = {}
    for finding in findings:  # strongest first: the first per feature is its strongest on the tag
        on_tag.setdefault((finding["tag_group"], finding["tag_value"]), {}).setdefault(
            finding["segment_feature"], finding)
    kept: list[dict] = []
    explained: list[dict] = []
    for finding in findings:
        feature, tag = finding["segment_feature"], (finding["tag_group"], finding["tag_value"])
        by = None
        for other, strongest in on_tag[tag].items():
            if other == feature:
                continue
            p_given_other = _conditional_p(finding, segments[feature], strata(other), tags[tag[0]], y, w)
            if p_given_other is None or p_given_other <= p_cut:
                continue
            p_other_given_this = _conditional_p(strongest, segments[other], strata(feature), tags[tag[0]], y, w)
            other_stronger = abs(math.log(strongest["relative_preference"])) > abs(math.log(finding["relative_preference"]))
            if (p_other_given_this is not None and p_other_given_this <= p_cut) or other_stronger:
                by = other
                break
        if by is None:
            kept.append(finding)
        else:
            explained.append({**finding, "explained_by": by})
    return kept, explained


def _conditional_p(finding: dict, segment: tuple[np.ndarray, list[str]], strata: np.ndarray,
                   tags: tuple[np.ndarray, np.ndarray, list[str]], y: np.ndarray, w: np.ndarray) -> float | None:
    """Two-sided p of the finding's segment × tag interaction within the strata of another feature
    (Woolf's stratified log odds ratio, half a click added to each cell)."""
    codes, values = segment
    rows, tag_codes, tag_values = tags
    in_segment = codes == values.index(finding["segment_value"])
    has_tag = np.zeros(len(codes), dtype=bool)
    has_tag[rows[tag_codes == tag_values.index(finding["tag_value"])]] = True
    ok = (codes >= 0) & (strata >= 0) & np.isfinite(w)
    cell = in_segment.astype(int) * 2 + has_tag.astype(int)  # 3: s & t, 2: s & not t, 1: rest & t, 0: rest & not t
    k = int(strata.max()) + 1 if len(strata) else 0
    if k == 0:
        return None
    flat = (strata * 4 + cell)[ok]
    n = np.bincount(flat, weights=w[ok], minlength=4 * k).reshape(k, 4)
    c = np.bincount(flat, weights=(w * y)[ok], minlength=4 * k).reshape(k, 4)
    usable = (n >= 1).all(axis=1) & (c.sum(axis=1) > 0)
    if not usable.any():
        return None
    n, c = n[usable], c[usable]
    c_half, n_one = c + 0.5, n + 1.0
    log_or = (np.log(c_half) - np.log(n_one - c_half)) @ np.array([1.0, -1.0, -1.0, 1.0])
    variance = (1.0 / c_half + 1.0 / (n_one - c_half)).sum(axis=1)
    weight = 1.0 / variance
    estimate = float((weight * log_or).sum() / weight.sum())
    return float(2 * stats.sps.norm.sf(abs(estimate) * math.sqrt(weight.sum())))


def _tag_text(tags: list[dict]) -> str:
    text = " + ".join(f"{t['group']} = {t['value']}" for t in tags)
    return f"{text} (always shown together)" if len(tags) > 1 else text


def _finding(cell: dict, aliased: list[tuple[str, str]]) -> dict:
    ratio = cell["relative_preference"]
    low, high = cell["relative_preference_ci"]
    verb = "prefer" if ratio > 1 else "avoid"
    tags = [{"group": g, "value": v} for g, v in aliased] or [{"group": cell["tag_group"], "value": cell["tag_value"]}]
    who = segment_phrase(cell["segment_feature"], cell["segment_value"])
    text = (f"{who} {verb} {_tag_text(tags)}: {ratio:.2f}× the rest's preference [{low:.2f}, {high:.2f}], "
            f"{cell['impressions']:,} impressions")
    return {"text": text, "sentence": finding_sentence(cell["segment_feature"], cell["segment_value"], tags,
                                                       ratio, low, high, cell["impressions"]),
            "segment_feature": cell["segment_feature"], "segment_value": cell["segment_value"],
            "tag_group": cell["tag_group"], "tag_value": cell["tag_value"], "tags": tags,
            "aliased": len(tags) > 1, "direction": verb,
            "normalized_preference": cell["normalized_preference"],
            "normalized_preference_ci": [None, None],
            "rest_normalized_preference": cell["rest_normalized_preference"],
            "relative_preference": ratio, "relative_preference_ci": [low, high],
            "impressions": cell["impressions"], "p_value": cell["p_value"], "q_value": cell["q_value"]}


def _who(feature: str, value: str) -> str:
    if feature.lower() == "age":
        return f"Ages {value}" if not value.endswith("+") and not value.startswith("<") else \
            f"Users aged {value}"
    return f"Users with {segment_phrase(feature, value)}"


def finding_sentence(feature: str, value: str, tags: list[dict], ratio: float, low: float, high: float,
                     impressions: int) -> str:
    """A finding as an analyst would repeat it: "Ages 18–24 click variants with button_color = blue 1.9×
    more than other users do, against the other button_color values (…)"."""
    group = tags[0]["group"]
    what = "variants with " + _tag_text(tags)
    who = _who(feature, value)
    interval = f"95% interval {low:.2f}–{high:.2f}×, {impressions:,} impressions"
    if ratio >= 1:
        return (f"{who} click {what} {ratio:.1f}× more than other users do, against the other {group} values "
                f"({interval}).")
    return (f"{who} click {what} only {ratio:.2f}× as much as other users do, against the other {group} values "
            f"({interval}).")
