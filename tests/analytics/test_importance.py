"""One importance-weight rule: training, attribution and OPE weigh a logged row the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from django.test import override_settings

from analytics import attribution, importance
from ranking import training


def test_a_uniformly_served_row_weighs_one_whatever_the_catalogue_size():
    # (1/n)/p with p = 1/n is 1 for n = 3 and for n = 3,888 alike: nothing is clipped.
    for n in (3, 40, 3888):
        assert importance.uniform_weight(propensity=1.0 / n, candidates=n, clip=10) == pytest.approx(1.0)


def test_ratio_is_target_over_logged_and_clipped():
    weights = importance.clipped_ratios(np.array([0.5, 0.9, 0.2]), np.array([0.25, 0.01, 0.4]), clip=10)
    assert weights.tolist() == pytest.approx([2.0, 10.0, 0.5])


def test_unusable_propensities_get_the_callers_missing_value():
    logged = np.array([0.0, -0.1, np.nan, 0.5])
    dropped = importance.clipped_ratios(0.5, logged, clip=10)
    assert np.isnan(dropped[:3]).all() and dropped[3] == 1.0
    kept = importance.clipped_ratios(0.5, logged, clip=10, missing=1.0)
    assert kept.tolist() == [1.0, 1.0, 1.0, 1.0]
    no_candidates = importance.uniform_weights(np.array([0.5]), np.array([0]), clip=10)
    assert np.isnan(no_candidates[0])


def test_the_clip_defaults_to_the_setting():
    with override_settings(KALEIDO_IPS_CLIP=3.0):
        assert importance.clipped_ratio(1.0, 0.01) == 3.0
    with override_settings(KALEIDO_IPS_CLIP=1000.0):
        assert importance.clipped_ratio(1.0, 0.01) == pytest.approx(100.0)


def test_training_and_attribution_weigh_the_same_rows_alike():
    # A model-bucket row chosen with probability 0.6 among 5, one chosen with 0.02, a random row.
    frame = pd.DataFrame({"bucket": ["model", "model", "random"], "served_bucket": ["model", "model", "random"],
                          "propensity": [0.6, 0.02, 0.2], "candidates": [5, 5, 5]})
    with override_settings(KALEIDO_IPS_CLIP=10.0):
        from_attribution = attribution._weights(frame)
        from_training = [training.ips_weight(bucket=b, propensity=p, candidates=c, clip=10.0)
                         for b, p, c in zip(frame["served_bucket"], frame["propensity"], frame["candidates"],
                                            strict=True)]
    assert from_attribution.tolist() == pytest.approx(from_training)
    assert from_training == pytest.approx([0.2 / 0.6, 10.0, 1.0])


@pytest.mark.parametrize("seed", range(8))
def test_weighting_a_greedy_log_recovers_the_uniform_policys_click_rate(seed):
    # Planted world: n variants with known click rates, logged by an ε-greedy policy that mostly
    # shows the best one. Weighted by the shared rule, the log's click rate is the uniform policy's.
    rng = np.random.default_rng(seed)
    n, rows, epsilon = 6, 60_000, 0.5
    ctr = rng.uniform(0.02, 0.2, size=n)
    best = int(np.argmax(ctr))
    pi = np.full(n, epsilon / n)
    pi[best] += 1 - epsilon
    shown = rng.choice(n, size=rows, p=pi)
    clicked = rng.random(rows) < ctr[shown]
    w = importance.uniform_weights(pi[shown], np.full(rows, n), clip=10)
    weighted = float((w * clicked).sum() / w.sum())
    naive = float(clicked.mean())
    assert abs(weighted - ctr.mean()) < 0.006
    assert abs(naive - ctr.mean()) > abs(weighted - ctr.mean())
