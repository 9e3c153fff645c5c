"""The registry's live calibration compares each impression with the model's probability at the position
it was shown, not the position-1 score the decision stored."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.utils import timezone

from analytics.dashboard.selectors import live_calibration
from analytics.ingestion import record_events
from ranking.models import Decision
from ranking.services import rank_variants, train_model
from tests.factories import PlacementFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db

BASE_CTR = {"red": 0.16, "blue": 0.22, "gold": 0.28, "green": 0.34}
POSITION_EFFECT = [1.0, 0.45, 0.2]  # clicks fall off steeply down the slate


def _event(kind: str, decision_id, variant_id: int, user_id: str, placement, position: int) -> dict:
    return {"event_id": uuid.uuid4().hex, "type": kind, "decision_id": str(decision_id), "variant_id": variant_id,
            "user_id": user_id, "placement": placement.slug, "position": position,
            "ts": timezone.now().isoformat().replace("+00:00", "Z")}


def _clicks(rng, placement, decision_id, user_id: str, slate: list) -> list[dict]:
    events = []
    for position, variant in enumerate(slate, start=1):
        events.append(_event("impression", decision_id, variant.id, user_id, placement, position))
        p = BASE_CTR[variant.tags["button_color"][0]] * POSITION_EFFECT[position - 1]
        if rng.random() < p:
            events.append(_event("click", decision_id, variant.id, user_id, placement, position))
    return events


@pytest.fixture
def slate_model(settings):
    """A model trained on random three-item slates whose clicks depend on the variant and the position."""
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    rng = np.random.default_rng(1)
    placement = PlacementFactory(slug="slates", default_mode="random")
    variants = [StyleVariantFactory(placement=placement, tags={"button_color": [c], "layout": ["single"]})
                for c in BASE_CTR]
    decisions, events = [], []
    for u in range(2500):
        slate = [variants[i] for i in rng.permutation(len(variants))[:3]]
        decision = Decision(placement=placement, user_id=f"t-{u}", features={"age": 20 + u % 40}, bucket="random",
                            assigned_bucket="random", created_at=timezone.now(), candidates=len(variants),
                            items=[{"variant_id": v.id, "rank": j, "score": None, "propensity": 1 / len(variants)}
                                   for j, v in enumerate(slate, start=1)])
        decisions.append(decision)
        events += _clicks(rng, placement, decision.decision_id, f"t-{u}", slate)
    Decision.objects.bulk_create(decisions)
    for start in range(0, len(events), 2000):
        assert not record_events(events[start:start + 2000]).rejected
    trained = train_model(placement=placement, algo="logreg", activate=True, force=True)
    assert trained.activated, trained
    placement.default_mode = "model"
    placement.save(update_fields=["default_mode"])
    return placement, variants, trained.model_version


def test_live_calibration_scores_each_impression_at_the_position_it_was_shown(slate_model):
    placement, variants, version = slate_model
    rng = np.random.default_rng(2)
    by_id = {v.id: v for v in variants}
    events, stored_scores = [], []
    for u in range(600):
        result = rank_variants(placement=placement, user_id=f"s-{u}", features={"age": 20 + u % 40}, k=3)
        slate = [by_id[item.variant_id] for item in result.items]
        stored_scores += [item.score for item in result.items]
        events += _clicks(rng, placement, result.decision_id, f"s-{u}", slate)
    assert not record_events(events).rejected
    impressions = sum(e["type"] == "impression" for e in events)
    clicks = sum(e["type"] == "click" for e in events)

    curve = live_calibration(version=version)

    assert sum(p["count"] for p in curve) == impressions
    assert sum(p["observed"] * p["count"] for p in curve) == pytest.approx(clicks)
    predicted = sum(p["predicted"] * p["count"] for p in curve) / impressions
    observed = clicks / impressions
    assert predicted == pytest.approx(observed, rel=0.25), "position-aware predictions match the clicks"
    # The stored scores are each item's position-1 probability: against clicks at every position they
    # would show the model over-predicting by far.
    assert np.mean(stored_scores) > 1.5 * observed
    assert [p["predicted"] for p in curve] == sorted(p["predicted"] for p in curve)


def test_a_version_that_never_served_has_no_live_curve(slate_model, settings):
    placement, _, _ = slate_model
    placement.default_mode = "random"
    placement.save(update_fields=["default_mode"])
    unserved = train_model(placement=placement, algo="logreg", activate=False, force=True).model_version

    assert live_calibration(version=unserved) == []
    assert live_calibration(version="no-such-version") == []
