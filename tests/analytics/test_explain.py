"""An analyst reads the placement's explanation: it covers what serving sees (context and position
included), says how well it predicts held-out traffic, and treats a missing feature as missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import explain
from ranking import services
from ranking.buckets import ServingMode
from tests.ranking.factories import catalogue, log_random_traffic

TAGS = ({"button_color": ["blue"]}, {"button_color": ["red"]}, {"button_color": ["gold"]})


def _frame(rows: list[dict]) -> pd.DataFrame:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame({
        "features": [r.get("features", {}) for r in rows], "context": [r.get("context", {}) for r in rows],
        "tags": [r.get("tags", {}) for r in rows], "position": [r.get("position", 1) for r in rows],
        "clicked": [r.get("clicked", 0) for r in rows],
        "decided_at": [start + timedelta(seconds=i) for i in range(len(rows))]})


def test_the_design_has_context_and_position_and_missing_values_are_missing():
    frame = _frame([
        {"features": {"age": 31, "gender": "f"}, "context": {"device": "ios"}, "tags": TAGS[0], "position": 1},
        {"features": {"gender": None}, "context": {}, "tags": TAGS[1], "position": 2},
        {"features": {"age": 58}, "context": {"device": "Web"}, "tags": {}, "position": 3},
    ])

    design, user_cols, tag_cols = explain.ebm_design(frame)

    assert user_cols == ["age", "ctx.device", "gender"] and tag_cols == ["tag:button_color"]
    assert design["position"].tolist() == [1.0, 2.0, 3.0]
    # A user without an age keeps the column numeric, the gap missing; absent categories are NaN.
    assert design["age"].dtype.kind == "f" and np.isnan(design["age"][1])
    assert design["gender"][0] == "f" and pd.isna(design["gender"][1]) and pd.isna(design["gender"][2])
    assert design["ctx.device"].tolist()[0::2] == ["ios", "web"] and pd.isna(design["ctx.device"][1])
    assert not {"nan", "none", "unknown"} & {str(v) for v in design.to_numpy().ravel() if isinstance(v, str)}


def test_ebm_jobs_follow_the_setting_else_every_core(settings, monkeypatch):
    settings.KALEIDO_EBM_JOBS = 3
    assert explain.ebm_jobs() == 3
    settings.KALEIDO_EBM_JOBS = 0
    assert explain.ebm_jobs() == len(__import__("os").sched_getaffinity(0))
    del settings.KALEIDO_EBM_JOBS
    monkeypatch.setenv("KALEIDO_EBM_JOBS", "2")
    assert explain.ebm_jobs() == 2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a_planted_device_preference_and_position_effect_are_found(seed):
    # On ios users click blue more; every lower slot is clicked less; age carries nothing. A fifth of the
    # users have no gender: the EBM must learn a missing bin, not a "nan" category.
    rng = np.random.default_rng(seed)
    n = 12_000
    devices = rng.choice(["ios", "android"], n)
    colors = rng.integers(3, size=n)
    positions = rng.integers(1, 4, size=n)
    genders = np.where(rng.random(n) < 0.2, None, rng.choice(["f", "m"], n))
    logit = -2.5 + 1.4 * ((devices == "ios") & (colors == 0)) - 0.5 * (positions - 1)
    clicked = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = _frame([{"features": {"age": int(rng.integers(18, 70)), "gender": g}, "context": {"device": d},
                     "tags": TAGS[c], "position": int(p), "clicked": int(y)}
                    for d, c, p, g, y in zip(devices, colors, positions, genders, clicked, strict=True)])
    design, user_cols, tag_cols = explain.ebm_design(frame)
    y = frame["clicked"].to_numpy()
    train, holdout = explain.holdout_split(y)

    ebm = explain.fit_ebm(design.iloc[train], y[train], user_cols, tag_cols, n_jobs=explain.ebm_jobs())
    summary = explain.summarise_ebm(ebm)
    auc = explain.holdout_auc(ebm, design.iloc[holdout], y[holdout])

    names = [t["name"] for t in summary["terms"]]
    top_pair = summary["pairs"][0]
    assert set(top_pair["features"]) == {"ctx.device", "tag:button_color"}, summary["pairs"]
    position = next(m for m in summary["main_effects"] if m["name"] == "position")
    scores = [s for s in position["shape"]["scores"] if s is not None]
    assert scores[0] > scores[-1] + 0.5  # slot 1 beats slot 3 by about the planted 1.0 log-odds
    assert names.index("position") < names.index("age")
    gender = next(m for m in summary["main_effects"] if m["name"] == "gender")
    assert gender["shape"]["names"] == ["f", "m"] and gender["shape"]["missing_score"] is not None
    assert len(holdout) == n // 5 and auc is not None and auc > 0.6


@pytest.mark.slow
@pytest.mark.django_db
def test_the_stored_explanation_reports_holdout_auc_and_context_contributions(settings):
    settings.KALEIDO_EBM_JOBS = 2
    placement, variants = catalogue(slug="explain-home", default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=4000, seed=3)
    services.train_model(placement=placement, algo="lightgbm", activate=True, force=True)

    stored = explain.explanation_compute(placement_id=placement.id)

    assert stored.status == "ready", stored.error
    result = stored.result
    assert result["n_jobs"] == 2 and result["holdout_rows"] == 800
    assert 0.55 < result["holdout_auc"] <= 1.0
    assert any(t["name"] == "ctx.device" for t in result["terms"]) and any(t["name"] == "position"
                                                                          for t in result["terms"])
    by_segment = result["contributions"]["by_segment"]
    assert "ctx.device" in by_segment and set(by_segment["ctx.device"]) == {"ios", "android", "web"}
    # The contributions explain the predictions serving makes: with the request context and the position.
    assert {"ctx.device", "position"} <= set(result["contributions"]["terms"])
