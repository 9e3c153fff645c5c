"""The report reads one row per user, condensed by the database: the same users, totals and first-exposure
segments, in the same order, as condensing the user-day rollups in Python."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from analytics.experiments import experiment_users, user_day_frame, users_at_first_exposure
from analytics.rollups import refresh_rollups
from tests.analytics.factories import log_traffic
from tests.factories import ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def test_the_database_condenses_user_days_as_the_frame_does():
    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(slug="home-ab", placement=placement, buckets={"control": 0.5, "model": 0.5})
    now = timezone.now()
    users = {"control": 40, "model": 40}
    # Features drift from day to day; on the middle day a user has two keys with the same impressions,
    # so the tie falls to the key that sorts first.
    log_traffic(placement=placement, experiment=experiment, users=users, ctr={"control": 0.2, "model": 0.2},
                when=now - timedelta(days=2), features=lambda u: {"age": 20 + u % 3, "plan": "free"}, seed=1)
    log_traffic(placement=placement, experiment=experiment, users=users, ctr={"control": 0.2, "model": 0.2},
                when=now - timedelta(days=1), impressions_per_user=2,
                features=lambda u: {"age": 40, "plan": "pro" if u % 2 else "Team"}, seed=2)
    log_traffic(placement=placement, experiment=experiment, users=users, ctr={"control": 0.2, "model": 0.2},
                when=now - timedelta(days=1), impressions_per_user=2,
                features=lambda u: {"age": 40, "plan": "école"}, seed=3)
    log_traffic(placement=placement, experiment=experiment, users={"model": 25}, user_prefix="late",
                ctr={"model": 0.2}, features=lambda u: {"age": 60, "plan": "pro"}, seed=4)
    refresh_rollups()

    condensed = experiment_users(experiment)
    expected = users_at_first_exposure(user_day_frame(experiment))

    assert len(condensed) == 105
    pd.testing.assert_frame_equal(condensed.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)
    late = condensed[condensed["user_id"].str.startswith("late")]
    assert late["segment_key"].str.contains("age=55–64").all()


def test_an_experiment_without_rollups_has_no_users():
    experiment = ExperimentFactory(slug="empty-ab", placement=PlacementFactory(slug="side"),
                                   buckets={"control": 0.5, "model": 0.5})

    assert experiment_users(experiment).empty
    assert list(experiment_users(experiment).columns) == list(users_at_first_exposure(pd.DataFrame()).columns)
