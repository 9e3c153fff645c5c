"""The report's segment lifts, computed for every (feature, value, bucket) cell at once, are the lifts of
taking each cell's users one by one: the same cells, the same numbers, the same order and q-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import stats
from analytics.experiments import METRICS, MIN_SEGMENT_USERS, _lift_json, _metric_block, segment_lifts
from analytics.segments import parse_segment_key, segment_key


def lifts_cell_by_cell(users: pd.DataFrame, control: str, treatments: list[str], *, sequential: bool = True,
                       min_users: int = MIN_SEGMENT_USERS) -> list[dict]:
    """The definition: for each feature and value, the users whose key has it, split by bucket."""
    parsed = users["segment_key"].fillna("").map(parse_segment_key)
    found = []
    for feature in sorted({name for seg in parsed for name in seg}):
        values = parsed.map(lambda seg, f=feature: seg.get(f))
        for value in sorted(values.dropna().unique()):
            cell = users[values == value]
            arms = {b: cell[cell["bucket"] == b] for b in [control, *treatments]}
            if len(arms[control]) < min_users:
                continue
            for bucket in treatments:
                if len(arms[bucket]) < min_users:
                    continue
                for metric, num, den in METRICS:
                    t = arms[bucket][arms[bucket][den] > 0]
                    c = arms[control][arms[control][den] > 0]
                    if len(t) < 2 or len(c) < 2 or c[num].sum() == 0:
                        continue
                    lift = _lift_json(_metric_block(t[num].to_numpy(float), t[den].to_numpy(float)),
                                      _metric_block(c[num].to_numpy(float), c[den].to_numpy(float)),
                                      len(t), len(c), sequential=sequential)
                    found.append({"feature": feature, "value": value, "bucket": bucket, "metric": metric,
                                  "users": len(t) + len(c), "relative_lift": lift["relative"],
                                  "absolute_lift": lift["absolute"], "p_value": lift["p_value"],
                                  "p_value_fixed_horizon": lift["p_value_fixed_horizon"],
                                  "relative_lift_ci": lift["relative_ci"], "relative_lift_cs": lift["relative_cs"]})
    q = stats.benjamini_hochberg([s["p_value"] if s["p_value"] is not None else np.nan for s in found])
    for item, q_value in zip(found, q, strict=True):
        item["q_value"] = None if not np.isfinite(q_value) else float(q_value)
        item["significant"] = bool(q_value < 0.05) if np.isfinite(q_value) else False
    found.sort(key=lambda s: (s["q_value"] is None, s["q_value"] or 1.0))
    return found


def _users(seed: int, n: int = 1500) -> pd.DataFrame:
    """Users of three buckets with keys as the rollups write them: a few bounded features, a per-user code,
    some keys without a feature, keys cut at 255 characters, users without clicks or impressions, and a
    bucket outside the experiment's arms."""
    rng = np.random.default_rng(seed)
    keys = []
    for u in range(n):
        features = {"plan": str(rng.choice(["free", "pro", "team"])), "age": int(rng.integers(18, 70)),
                    "code": f"c{u:05d}", "premium": bool(rng.random() < 0.3)}
        if rng.random() < 0.2:
            del features["plan"]
        if rng.random() < 0.1:
            features.update({f"long_feature_{j:02d}": "x" * 12 for j in range(20)})
        keys.append(segment_key(features))
    impressions = rng.poisson(4, n)
    clicks = rng.binomial(impressions, 0.1)
    return pd.DataFrame({
        "bucket": rng.choice(["control", "model", "random", "other"], n, p=[0.35, 0.35, 0.25, 0.05]),
        "user_id": [f"u{u}" for u in range(n)], "segment_key": keys, "impressions": impressions,
        "clicks": clicks, "conversions": rng.binomial(clicks, 0.4)})


@pytest.mark.slow  # many seeded worlds of pure statistics: once, in the PostgreSQL stage
def test_every_cell_at_once_equals_the_cells_taken_one_by_one():
    for seed in range(3):
        users = _users(seed)
        for sequential in (True, False):
            fast = segment_lifts(users, "control", ["model", "random"], sequential=sequential)
            assert fast == lifts_cell_by_cell(users, "control", ["model", "random"], sequential=sequential)
            assert len(fast) > 20, "several features × values × buckets × metrics are compared"


def test_small_cells_are_left_out_alike():
    users = _users(7, n=400)
    fast = segment_lifts(users, "control", ["model"], min_users=60)
    assert fast == lifts_cell_by_cell(users, "control", ["model"], min_users=60)
    assert {row["feature"] for row in fast} <= {"plan", "premium", "age"}
