"""Before activating a candidate model, an analyst estimates its CTR from random-bucket logs."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from analytics.ope import _online_ctr
from creative.models import StyleVariant, VariantStatus
from ranking import services as ranking
from ranking.simulator import in_process_transport, make_users, simulate
from tests.analytics.factories import SIM_TAG_GROUPS, log_simulated_random_bucket
from tests.factories import PlacementFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _catalogue(placement):
    groups = ["button_color", "layout", "font_scale", "appeal"]
    StyleVariant.objects.bulk_create([
        StyleVariant(placement=placement, variant_key=f"v{i}", status=VariantStatus.LIVE,
                     tags={**{g: [v] for g, v in zip(groups, combo, strict=True)}, "language": ["en"]})
        for i, combo in enumerate(itertools.product(*(SIM_TAG_GROUPS[g] for g in groups)))])
    return list(StyleVariant.objects.filter(placement=placement).order_by("id"))


def test_doubly_robust_estimate_matches_the_ctr_the_model_gets_once_activated(api_client_with):
    placement = PlacementFactory(slug="ope-banner", default_mode="model", new_variant_impressions=0,
                                 exploration_epsilon=0.05)
    variants = _catalogue(placement)
    earlier, later = timezone.now() - timedelta(hours=3), timezone.now() - timedelta(hours=1)
    log_simulated_random_bucket(placement=placement, variants=variants, users=30_000, seed=3, when=earlier)
    candidate = ranking.train_model(placement=placement, algo="lightgbm")
    # The random bucket keeps running after the candidate was trained: that later log is what it is judged on.
    log_simulated_random_bucket(placement=placement, variants=variants, users=60_000, seed=13, when=later)

    response = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-banner/ope?model_version={candidate.model_version}")
    assert response.status_code == 200
    estimate = response.json()
    assert estimate["active_model"]["model_version"] is None
    assert estimate["evaluated_on"] == "after_training" and estimate["rows"] == 60_000

    ranking.model_activate(version=candidate.model_version)
    served = simulate(transport=in_process_transport(), placement="ope-banner",
                      users=make_users(3000, seed=99, prefix="after"), k=1)
    true_ctr = served.buckets["model"].true_ctr

    dr = estimate["estimates"]["dr"]
    print(f"\nDR estimate {dr['ctr']:.4f} (95% CI {dr['ci'][0]:.4f}–{dr['ci'][1]:.4f}), online ground truth {true_ctr:.4f}")
    # The estimate is a sample statistic (on fresh 30,000-row logs its spread is about ±6%): its 95%
    # interval must cover the CTR the model then gets, and the point must be close.
    assert dr["ci"][0] <= true_ctr <= dr["ci"][1], (dr, true_ctr)
    assert abs(dr["ctr"] - true_ctr) / true_ctr < 0.15, (dr, true_ctr)
    # Uniform logging (p = 1/n): a row weighs π/p = n·(1 − ε + ε/n) where the logged variant is the candidate's
    # greedy choice and ε elsewhere, so the largest weight is exactly n·(1 − ε) + ε.
    n, epsilon = len(variants), placement.exploration_epsilon
    assert dr["largest_weight"] == pytest.approx(n * (1 - epsilon) + epsilon)
    assert dr["effective_sample_size"] > 100
    assert estimate["estimates"]["snips"]["ci"][0] < estimate["estimates"]["snips"]["ci"][1]
    online = _online_ctr(placement, candidate.model_version, None)
    assert online["impressions"] == 3000
    assert online["ctr_ci"][0] < true_ctr < online["ctr_ci"][1]


def test_with_only_the_training_log_the_estimate_says_it_is_optimistic(api_client_with):
    placement = PlacementFactory(slug="ope-small", default_mode="model")
    variants = _catalogue(placement)
    log_simulated_random_bucket(placement=placement, variants=variants, users=2000, seed=4)
    candidate = ranking.train_model(placement=placement, algo="logreg")

    estimate = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-small/ope?model_version={candidate.model_version}").json()

    assert estimate["evaluated_on"] == "including_training" and estimate["rows_after_training"] == 0
    assert estimate["rows"] == 2000 and "optimistic" in estimate["notes"]
    assert estimate["training_window"][1] is not None


def test_an_unknown_model_version_is_a_400(api_client_with):
    PlacementFactory(slug="ope-banner")
    response = api_client_with("analytics:read").get("/api/v1/placements/ope-banner/ope?model_version=nope")
    assert response.status_code == 400
    assert "model_version" in response.json()["errors"]


def test_the_batched_score_matrix_equals_scoring_one_user_at_a_time(settings):
    placement = PlacementFactory(slug="ope-small")
    variants = _catalogue(placement)
    log_simulated_random_bucket(placement=placement, variants=variants, users=2000, seed=4)
    candidate = ranking.train_model(placement=placement, algo="lightgbm")
    rows = [{"age": 25, "gender": "f", "income_band": "low", "has_credit_card": True, "ctx.device": "ios"},
            {"age": 61, "investment_count": 7}]

    fast = ranking.score_matrix(model_version=candidate.model_version, user_features=rows, variants=variants)
    slow = np.array([ranking.score_variants(model_version=candidate.model_version, user_features=row,
                                            variants=variants, positions=1) for row in rows])

    assert fast.shape == (2, len(variants))
    assert abs(fast - slow).max() < 1e-9
