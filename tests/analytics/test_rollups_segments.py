"""Rollup rows keep a bounded segment key: a feature with a value per user never gives a row per event."""

from __future__ import annotations

import random

import pytest
from django.db.models import Sum

from analytics.ingestion import record_events
from analytics.models import DailyRollup, UserDayRollup
from analytics.rollups import choose_segment_features, project_segment_key, refresh_rollups
from analytics.segments import MAX_SEGMENT_KEY, parse_segment_key
from tests.analytics.factories import event, shown
from tests.factories import PlacementFactory

pytestmark = pytest.mark.django_db


def test_the_fewest_valued_features_are_kept_while_their_combinations_fit():
    counts = {"gender": 2, "age": 7, "user_code": 500, "tier": 3, "city": 40}
    assert choose_segment_features(counts, max_keys=64) == ["gender", "tier"]  # 3 × 4 = 12; × 8 (age) > 64
    assert choose_segment_features(counts, max_keys=100) == ["age", "gender", "tier"]  # 3 × 4 × 8 = 96
    assert choose_segment_features({"user_code": 500}, max_keys=64) == []
    assert project_segment_key("age=25–34|gender=f|user_code=x1", {"gender", "age"}) == "age=25–34|gender=f"
    assert project_segment_key("", {"age"}) == ""
    cut = ("a=1|" * 64)[:MAX_SEGMENT_KEY - 4] + "|b=2"  # a key cut at the limit: its last part may be partial
    assert len(cut) == MAX_SEGMENT_KEY and project_segment_key(cut, {"a", "b"}).split("|")[-1] == "a=1"


def test_a_key_cut_at_the_limit_gives_no_partial_feature(settings):
    settings.KALEIDO_ROLLUP_SEGMENTS = []
    settings.KALEIDO_ROLLUP_SEGMENT_FEATURES = []
    placement = PlacementFactory(slug="wide")
    for i in range(6):
        features = {f"feature_{j:02d}": "x" for j in range(30)} | {"zz_code": f"z{i}"}  # cut inside feature_2x
        decision = shown(placement=placement.slug, variant_id=1, user_id=f"u-{i}", features=features)
        record_events([event(placement=placement.slug, variant_id=1, user_id=f"u-{i}", decision_id=decision)])
    refresh_rollups()

    keys = set(DailyRollup.objects.filter(placement=placement).values_list("segment_key", flat=True))
    parts = {part for key in keys for part in key.split("|")}
    assert keys and all(part.endswith("=x") for part in parts)  # only whole name=value parts


def _log(placement, *, users: int, seed: int) -> int:
    rng = random.Random(seed)
    batch = []
    for i in range(users):
        features = {"age": rng.randint(18, 70), "gender": rng.choice("fm"), "user_code": f"c{seed}-{i}",
                    "premium": rng.random() < 0.3}
        variant = rng.randint(1, 3)
        decision = shown(placement=placement.slug, variant_id=variant, user_id=f"u-{i}", features=features,
                         items=[{"variant_id": variant, "rank": 1, "propensity": 1 / 3}])
        batch.append(event(placement=placement.slug, variant_id=variant, user_id=f"u-{i}", decision_id=decision))
    return record_events(batch).accepted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_per_user_feature_is_left_out_of_rollup_keys_and_every_impression_still_counts(settings, seed):
    settings.KALEIDO_ROLLUP_SEGMENTS = []  # events carry every feature
    settings.KALEIDO_ROLLUP_SEGMENT_FEATURES = []
    settings.KALEIDO_ROLLUP_SEGMENT_MAX_KEYS = 64
    placement = PlacementFactory(slug=f"banner-{seed}")
    stored = _log(placement, users=240, seed=seed)
    refresh_rollups()

    rows = DailyRollup.objects.filter(placement=placement)
    kept = set().union(*(parse_segment_key(k) for k in rows.values_list("segment_key", flat=True)))
    assert "user_code" not in kept and {"gender", "premium"} <= kept
    # Bounded: at most 3 variants × 64 keys, far fewer rows than events.
    assert rows.count() <= 3 * 64 and rows.count() < stored / 2
    assert rows.aggregate(n=Sum("impressions"))["n"] == stored
    # The per-user rollup keeps the whole key (one row per user either way).
    assert UserDayRollup.objects.filter(placement=placement).count() == stored
    assert "user_code" in parse_segment_key(UserDayRollup.objects.filter(placement=placement).first().segment_key)


def test_the_setting_names_the_features_rollups_keep(settings):
    settings.KALEIDO_ROLLUP_SEGMENTS = []
    settings.KALEIDO_ROLLUP_SEGMENT_FEATURES = ["gender"]
    placement = PlacementFactory(slug="banner")
    stored = _log(placement, users=60, seed=7)
    refresh_rollups()

    keys = set(DailyRollup.objects.filter(placement=placement).values_list("segment_key", flat=True))
    assert keys <= {"gender=f", "gender=m"} and keys
    assert DailyRollup.objects.aggregate(n=Sum("impressions"))["n"] == stored


def test_features_that_all_fit_keep_the_events_key_unchanged(settings):
    settings.KALEIDO_ROLLUP_SEGMENTS = ["age", "gender"]
    settings.KALEIDO_ROLLUP_SEGMENT_FEATURES = []
    placement = PlacementFactory(slug="banner")
    _log(placement, users=50, seed=9)
    refresh_rollups()

    keys = set(DailyRollup.objects.values_list("segment_key", flat=True))
    assert all(set(parse_segment_key(k)) == {"age", "gender"} for k in keys)
