"""The report reads one row per user, kept by the rollup refresh: the same users, totals and first-exposure
segments, in the same order, as condensing every user-day rollup in Python, whatever order the days are
refreshed in and however often they are recounted."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from analytics.experiments import experiment_users, user_day_frame, users_at_first_exposure
from analytics.models import Event
from analytics.rollups import recount_experiment_users, refresh_day, refresh_rollups
from ranking.services import experiment_info
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

    condensed = _assert_kept_as_defined(experiment)

    assert len(condensed) == 105
    late = condensed[condensed["user_id"].str.startswith("late")]
    assert late["segment_key"].str.contains("age=55–64").all()


def _assert_kept_as_defined(experiment) -> pd.DataFrame:
    kept = experiment_users(experiment_info(experiment))
    expected = users_at_first_exposure(user_day_frame(experiment_info(experiment)))
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)
    return kept


def test_days_refreshed_out_of_order_recounted_or_emptied_keep_each_user_at_their_first_exposure():
    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(slug="home-ab", placement=placement, buckets={"control": 0.5, "model": 0.5})
    now = timezone.now()
    users, ctr = {"control": 30, "model": 30}, {"control": 0.3, "model": 0.3}
    recent, earlier = now - timedelta(days=1), now - timedelta(days=3)
    log_traffic(placement=placement, experiment=experiment, users=users, ctr=ctr, when=recent,
                features=lambda u: {"plan": "pro"}, seed=1)
    refresh_day(placement_id=placement.id, day=recent.date())
    assert set(experiment_users(experiment_info(experiment))["segment_key"]) == {"plan=pro"}

    # An earlier day arrives later (an import, late events): it becomes the first exposure.
    log_traffic(placement=placement, experiment=experiment, users=users, ctr=ctr, when=earlier,
                features=lambda u: {"plan": "free"}, seed=2)
    refresh_day(placement_id=placement.id, day=earlier.date())
    assert set(_assert_kept_as_defined(experiment)["segment_key"]) == {"plan=free"}

    # More events on the recent day: recounting it moves the totals, not the segment.
    log_traffic(placement=placement, experiment=experiment, users={"model": 10}, ctr=ctr, when=recent,
                features=lambda u: {"plan": "team"}, seed=3)
    refresh_day(placement_id=placement.id, day=recent.date())
    refresh_day(placement_id=placement.id, day=recent.date())  # a recount with nothing new changes nothing
    kept = _assert_kept_as_defined(experiment)
    assert kept["impressions"].sum() == 2 * 60 * 3 + 10 * 3

    # The earlier day loses some users' events: their first exposure is the recent day again.
    Event.objects.filter(placement=placement, ts__date=earlier.date(), user_id__startswith="u-model").delete()
    refresh_day(placement_id=placement.id, day=earlier.date())
    kept = _assert_kept_as_defined(experiment).set_index("user_id")
    assert kept.loc["u-model-0", "segment_key"] == "plan=pro" and kept.loc["u-control-0", "segment_key"] == "plan=free"

    before = experiment_users(experiment_info(experiment))
    assert recount_experiment_users(placement_id=placement.id) == len(before)
    pd.testing.assert_frame_equal(experiment_users(experiment_info(experiment)), before)


def test_an_experiment_without_rollups_has_no_users():
    experiment = ExperimentFactory(slug="empty-ab", placement=PlacementFactory(slug="side"),
                                   buckets={"control": 0.5, "model": 0.5})

    assert experiment_users(experiment_info(experiment)).empty
    assert list(experiment_users(experiment_info(experiment)).columns) == list(users_at_first_exposure(pd.DataFrame()).columns)


def test_the_refresh_command_rebuilds_the_experiment_users_after_a_restore():
    from io import StringIO

    from django.core.management import call_command

    from analytics.models import ExperimentUser

    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(slug="home-ab", placement=placement, buckets={"control": 0.5, "model": 0.5})
    log_traffic(placement=placement, experiment=experiment, users={"control": 12, "model": 8},
                ctr={"control": 0.2, "model": 0.2}, seed=5)
    refresh_rollups()
    kept = experiment_users(experiment_info(experiment))
    ExperimentUser.objects.all().delete()  # a restore that brought the rollups back without them

    out = StringIO()
    call_command("refresh_rollups", "--recount-totals", stdout=out)

    assert "20 experiment user(s)" in out.getvalue()
    pd.testing.assert_frame_equal(experiment_users(experiment_info(experiment)), kept)
