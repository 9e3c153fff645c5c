"""No model goes live without beating what it would replace: the activation gate on every path."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from analytics.ingestion import record_events
from ranking import retraining, services
from ranking.buckets import ServingMode
from ranking.models import Decision, ModelVersion
from ranking.simulator import make_users
from tests.frontend.factories import staff_user

from .factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db


def log_coin_flips(placement, variants, *, users: int, ctr: float, seed: int, start: datetime | None = None) -> None:
    """Random-bucket traffic whose clicks ignore the user and the variant: nothing to learn."""
    rng = np.random.default_rng(seed)
    start = start or datetime.now(UTC) - timedelta(hours=3)
    decisions, events = [], []
    for i, user in enumerate(make_users(users, seed=seed, prefix=f"coin{seed}")):
        variant = variants[rng.integers(len(variants))]
        decision_id, created = uuid.uuid4(), start + timedelta(seconds=i)
        decisions.append(Decision(
            decision_id=decision_id, placement=placement, user_id=user.user_id, features=user.features,
            context=user.context, bucket="random", assigned_bucket="random", candidates=len(variants),
            items=[{"variant_id": variant.id, "rank": 1, "score": None, "propensity": 1 / len(variants)}],
            created_at=created))
        base = {"decision_id": str(decision_id), "variant_id": variant.id, "user_id": user.user_id,
                "placement": placement.slug, "position": 1, "ts": created.isoformat()}
        events.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
        if rng.random() < ctr:
            events.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
    Decision.objects.bulk_create(decisions, batch_size=500)
    for i in range(0, len(events), 1000):
        assert not record_events(events[i:i + 1000]).rejected


@pytest.fixture
def noise():
    """A placement whose log holds no preference at all, and 90 clicks in 3,000 impressions."""
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_coin_flips(placement, variants, users=3000, ctr=0.03, seed=5)
    return placement, variants


def _train_ranker(*args) -> tuple[dict, str, CommandError | None]:
    out, error = StringIO(), None
    try:
        call_command("train_ranker", *args, stdout=out)
    except CommandError as exc:
        error = exc
    text = out.getvalue()
    return json.loads(text.strip().splitlines()[-1]), text, error


def test_train_ranker_refuses_to_activate_a_model_that_learnt_nothing(noise):
    placement, _ = noise

    summary, text, error = _train_ranker("--placement", placement.slug, "--activate")

    assert error is not None and "not activated" in str(error)  # exit status 1
    assert summary["activated"] is False and summary["gate"]["passed"] is False
    assert summary["gate"]["reasons"] and summary["gate"]["baseline_logloss"] > 0
    assert "Small data" in text and f"about {summary['gate']['clicks_needed']} are needed" in text
    stored = ModelVersion.objects.get(version=summary["model_version"])
    assert not stored.is_active  # stored, not activated
    assert services.active_model_version(placement) is None


def test_force_activates_it_and_the_override_is_recorded(noise):
    placement, _ = noise

    summary, _, error = _train_ranker("--placement", placement.slug, "--activate", "--force")

    assert error is None and summary["activated"] is True and summary["gate"]["forced"] is True
    stored = ModelVersion.objects.get(version=summary["model_version"])
    [entry] = stored.params["activations"]
    assert entry["forced"] is True and entry["by"] == "train_ranker" and entry["gate"]["reasons"]


def test_activate_model_refuses_then_forces(noise):
    placement, _ = noise
    version = services.train_model(placement=placement).model_version

    with pytest.raises(CommandError, match="was not activated"):
        call_command("activate_model", version, stdout=StringIO())
    assert not ModelVersion.objects.get(version=version).is_active

    out = StringIO()
    call_command("activate_model", version, "--force", stdout=out)
    assert "overridden" in out.getvalue() and ModelVersion.objects.get(version=version).is_active


def test_the_dashboard_button_answers_400_with_the_reasons(noise):
    placement, _ = noise
    version = services.train_model(placement=placement).model_version
    operator = APIClient()
    operator.force_login(staff_user("opal", "operators"))

    response = operator.post(f"/dashboard/api/models/{version}/activate")

    assert response.status_code == 400
    assert "was not activated" in json.dumps(response.json())
    assert not ModelVersion.objects.get(version=version).is_active


def test_periodic_retraining_keeps_the_serving_model_when_the_new_one_is_useless(settings):
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=5000, seed=1, start=datetime.now(UTC) - timedelta(hours=5))
    champion = services.train_model(placement=placement, activate=True)
    assert champion.activated and champion.gate["passed"]
    log_coin_flips(placement, variants, users=3000, ctr=0.03, seed=6)  # then the clicks stop following anything

    summary = retraining.retrain_placement(placement.id)

    assert summary is not None and summary["activated"] is False and summary["gate"]["reasons"]
    assert services.active_model_version(placement) == champion.model_version


def test_a_model_that_learnt_the_preferences_passes_and_is_compared_with_the_champion():
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=4000, seed=1)
    first = services.train_model(placement=placement, activate=True)
    log_random_traffic(placement, variants, users=4000, seed=2, start=datetime.now(UTC) - timedelta(minutes=100))

    second = services.train_model(placement=placement, activate=True)

    assert first.activated and second.activated, second.gate["reasons"]
    champion = second.gate["champion"]
    assert champion["version"] == first.model_version and champion["compared"] is True
    assert champion["rows"] >= 200  # holdout rows logged after the champion's training window
    assert second.gate["logloss"] < second.gate["baseline_logloss"]


def test_rolling_back_to_a_version_that_served_needs_no_gate(noise):
    placement, _ = noise
    first = services.train_model(placement=placement, activate=True, force=True).model_version
    services.train_model(placement=placement, activate=True, force=True)

    assert services.model_rollback(placement=placement).version == first


def test_a_useless_model_rarely_beats_the_baseline_by_more_than_the_noise_of_its_holdout():
    # 200 seeds of a holdout with 3% clicks and a "model" whose scores are noise around the mean, shrunk
    # by validation-like calibration: its log loss lands below the baseline's about half the time, but a
    # gain beyond 1.64 standard errors is rare; a real effect (scores that know the clicks' odds) passes.
    from ranking.gate import gain_is_real
    from ranking.training import logloss_gain

    def logit(p):
        return np.log(p / (1 - p))

    useless_passes = useless_below = real_passes = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        odds = rng.normal(-3.5, 0.6, 2000)
        y = (rng.random(2000) < 1 / (1 + np.exp(-odds))).astype(float)
        # Calibrated on a validation sample, compared with the training sample's rate: both noisy.
        validation_rate, training_rate = (rng.random(3000) < 0.036).mean(), (rng.random(14_000) < 0.036).mean()
        noise_scores = 1 / (1 + np.exp(-(logit(validation_rate) + 0.1 * rng.normal(size=2000))))
        gain, se = logloss_gain(y, noise_scores, training_rate)
        useless_below += gain > 0
        useless_passes += gain_is_real(gain, se)
        real_passes += gain_is_real(*logloss_gain(y, 1 / (1 + np.exp(-odds)), training_rate))
    assert useless_below >= 40  # "log loss below the baseline" alone would let these through
    assert useless_passes <= 20  # at most ~5% expected (one-sided 95%)
    assert real_passes >= 140


def test_the_gate_names_a_gain_within_noise_in_words(noise):
    placement, _ = noise
    version = services.train_model(placement=placement).model_version
    mv = ModelVersion.objects.get(version=version)
    gate = mv.params["gate"]
    assert gate["logloss_gain_se"] > 0
    mv.logloss = gate["baseline_logloss"] * 0.999  # a whisker below the baseline: what chance gives
    mv.auc = 0.52
    mv.params = {**mv.params, "gate": {**gate, "logloss_gain": 0.5 * gate["logloss_gain_se"]}}
    mv.save()

    from ranking import gate as G

    verdict = G.check(mv)
    assert not verdict.passed
    assert any("standard errors" in reason and "noise" in reason for reason in verdict.reasons)
