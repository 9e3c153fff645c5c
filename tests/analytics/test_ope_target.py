"""OPE evaluates the policy that would serve: its target probabilities are what /rank then shows."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import ope
from counters.services import add_impressions
from creative.models import Placement, StyleVariant
from ranking import features as F
from ranking import services, serving
from ranking.buckets import ServingMode
from tests.factories import StyleVariantFactory
from tests.ranking.factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db

USER = {"age": 27, "gender": "f", "income_band": "mid", "holdings": 12.0, "investment_count": 1,
        "has_credit_card": True}
CONTEXT = {"device": "ios"}


def _trained(slug: str, **placement_fields):
    placement, variants = catalogue(slug=slug, default_mode=ServingMode.MODEL, **placement_fields)
    log_random_traffic(placement, variants, users=1500, seed=7)
    result = services.train_model(placement=placement, algo="logreg", activate=True, force=True)
    serving.invalidate_catalogue(None)
    return placement, variants, result.model_version


def _served_first(placement: Placement, draws: int) -> dict[int, float]:
    counts: dict[int, int] = {}
    for i in range(draws):
        first = serving.rank(placement=placement.slug, user_id=f"u{i}", features=USER, context=CONTEXT).items[0]
        counts[first.variant_id] = counts.get(first.variant_id, 0) + 1
    return {v: c / draws for v, c in counts.items()}


@pytest.mark.parametrize("fields", [
    {"exploration_policy": Placement.ExplorationPolicy.EPSILON_GREEDY, "exploration_epsilon": 0.2,
     "new_variant_impressions": 0},
    # Half the designs have served 100 times and half not yet (as when they are published into a served
    # catalogue): those are "new" under a threshold of 42.
    {"exploration_policy": Placement.ExplorationPolicy.THOMPSON, "exploration_epsilon": 0.1,
     "new_variant_impressions": 42},
], ids=["epsilon-greedy", "thompson-with-new-variants"])
def test_the_target_is_the_distribution_rank_serves(fields, settings):
    settings.KALEIDO_NEW_VARIANT_SHARE = 0.2  # large enough that a wrong new-variant term would show
    placement, variants, version = _trained(f"ope-target-{fields['exploration_policy']}", **fields)
    if fields["new_variant_impressions"]:
        add_impressions(placement_id=placement.id, deltas={v.id: 100 for v in variants[::2]})
        serving.invalidate_catalogue(None)

    target = ope.target_policy(placement=placement, model_version=version,
                               feature_rows=[F.row_features(USER, CONTEXT)])
    draws = 3000
    served = _served_first(placement, draws)

    pi = dict(zip(target.variant_ids, target.pi[0], strict=True))
    assert target.pi[0].sum() == pytest.approx(1.0)
    for variant_id, p in pi.items():
        tolerance = 4 * np.sqrt(max(p * (1 - p), 1e-4) / draws) + 0.003
        assert abs(served.get(variant_id, 0.0) - p) < tolerance, (variant_id, served.get(variant_id), p)
    assert set(served) <= set(pi)
    if fields["new_variant_impressions"]:
        assert target.description["new_variants"] > 0 and target.description["thompson_draws"] > 0
        assert target.description["new_variant_share"] == pytest.approx(0.2)


def test_a_pinned_variant_is_the_target_at_position_one(api_client_with):
    placement, variants, version = _trained("ope-pinned", new_variant_impressions=0)
    pinned = variants[5]
    StyleVariant.objects.filter(id=pinned.id).update(pinned=True)
    serving.invalidate_catalogue(None)

    estimate = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-pinned/ope?model_version={version}&include_training=true").json()

    assert estimate["target"]["pinned"] == [pinned.variant_key]
    # Only the pinned variant's logged rows carry weight: IPS is its click count over all rows × n.
    frame_rows = estimate["rows"]
    assert estimate["estimates"]["ips"]["largest_weight"] == pytest.approx(len(variants))
    assert estimate["estimates"]["snips"]["ctr"] <= 1.0 and frame_rows >= 1500


def test_a_live_variant_nobody_was_shown_is_named_in_a_warning(api_client_with):
    placement, variants, version = _trained("ope-unsupported", new_variant_impressions=100)
    newcomer = StyleVariantFactory(placement=placement, variant_key="fresh-design",
                                   tags={"button_color": ["blue"], "layout": ["grid"], "appeal": ["plain"],
                                         "visual_style": ["flat"]})
    serving.invalidate_catalogue(None)

    estimate = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-unsupported/ope?model_version={version}&include_training=true").json()

    keys = [v["variant_key"] for v in estimate["unsupported_variants"]]
    assert keys == [newcomer.variant_key]
    assert estimate["unsupported_variants"][0]["target_share"] > 0
    assert any("fresh-design" in w for w in estimate["warnings"])
    assert estimate["candidates"] == len(variants) + 1
    heavy = estimate["estimates"]["ips"]["effective_sample_size"] < 100
    assert estimate["interval_method"] == ("betting_by_user" if heavy else "bca_bootstrap_by_user")
    low, high = estimate["guaranteed_ci"]
    assert 0 <= low <= high <= 1


def test_scoring_in_small_blocks_gives_the_same_terms_as_one_matrix():
    placement, variants, version = _trained("ope-blocks", exploration_policy=Placement.ExplorationPolicy.THOMPSON,
                                            new_variant_impressions=42)
    rows = [F.row_features({**USER, "age": age}, CONTEXT) for age in range(18, 70, 3)]
    logged = [variants[i % len(variants)].id for i in range(len(rows))]

    whole = ope.target_policy(placement=placement, model_version=version, feature_rows=rows)
    blocks = ope.target_terms(placement=placement, model_version=version, feature_rows=rows,
                              logged_variant_ids=logged, cells=2 * len(variants))  # two rows a block

    index = {v: i for i, v in enumerate(whole.variant_ids)}
    expected = ope.row_terms(np.array([index[v] for v in logged]), whole.pi, whole.q)
    for name in ("pi_logged", "q_logged", "direct"):
        assert np.allclose(getattr(blocks.terms, name), getattr(expected, name)), name
    assert np.allclose(blocks.share, whole.pi.mean(axis=0))
    assert blocks.description == whole.description


def test_the_command_prints_the_estimate_and_a_bad_clip_is_a_field_error(api_client_with):
    import json
    from io import StringIO

    from django.core.management import call_command

    placement, variants, version = _trained("ope-command", new_variant_impressions=0)
    out = StringIO()
    call_command("off_policy_estimate", "ope-command", "--model-version", version, "--include-training",
                 "--clip", "5", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["target"]["epsilon"] == placement.exploration_epsilon
    # Clipped at 5 (the greedy variant's true weight is about 36 · 0.95), every estimate drops below the
    # unclipped one.
    unclipped = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-command/ope?model_version={version}&include_training=true").json()
    assert printed["estimates"]["ips"]["largest_weight"] == pytest.approx(5.0)
    assert printed["estimates"]["ips"]["ctr"] < unclipped["estimates"]["ips"]["ctr"]
    assert unclipped["clipped_ips"]["clipped_rows"] > 0

    refused = api_client_with("analytics:read").get(
        f"/api/v1/placements/ope-command/ope?model_version={version}&clip=0.5")
    assert refused.status_code == 400 and "clip" in refused.json()["errors"]
