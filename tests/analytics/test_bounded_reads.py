"""Report reads are bounded: a GET loads at most a capped, most recent sample and does not recount
rollups when a worker does that."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.attribution import impression_frame
from analytics.ingestion import record_events
from analytics.models import DailyRollup, RollupDirty
from tests.analytics.factories import event
from tests.factories import DecisionFactory, ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def placement():
    return PlacementFactory(slug="home-banner")


def _impressions(placement, hours_ago: list[int], clicked: set[int]):
    now = timezone.now()
    for i, hours in enumerate(hours_ago):
        decision = DecisionFactory(placement=placement, user_id=f"u-{i}",
                                   items=[{"variant_id": 1, "rank": 1, "propensity": 1.0}])
        when = now - timedelta(hours=hours)
        batch = [event(placement="home-banner", variant_id=1, user_id=f"u-{i}", decision_id=decision.decision_id,
                       ts=when)]
        if i in clicked:
            batch.append(event(placement="home-banner", type="click", variant_id=1, user_id=f"u-{i}",
                               decision_id=decision.decision_id, ts=when + timedelta(seconds=3)))
        record_events(batch)


def test_a_capped_frame_holds_the_most_recent_impressions_with_their_clicks(placement):
    _impressions(placement, hours_ago=[50, 40, 30, 3, 2, 1], clicked={0, 4})

    frame = impression_frame(placement=placement, limit=3)

    assert sorted(frame["user_id"]) == ["u-3", "u-4", "u-5"]
    assert dict(zip(frame["user_id"], frame["clicked"], strict=True)) == {"u-3": 0, "u-4": 1, "u-5": 0}


def test_with_a_worker_a_report_read_leaves_the_recount_to_it(placement, api_client_with, settings):
    experiment = ExperimentFactory(placement=placement, slug="home-ab")
    decision = DecisionFactory(placement=placement, experiment=experiment, bucket="control",
                               items=[{"variant_id": 1, "rank": 1, "propensity": 1.0}])
    record_events([event(placement="home-banner", decision_id=decision.decision_id, user_id=decision.user_id)])
    reader = api_client_with("analytics:read")

    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker and workers: beat refreshes rollups
    assert reader.get("/api/v1/experiments/home-ab/report").status_code == 200
    assert RollupDirty.objects.exists() and not DailyRollup.objects.exists()

    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default: no worker, the read recounts
    assert reader.get("/api/v1/experiments/home-ab/report").status_code == 200
    assert not RollupDirty.objects.exists() and DailyRollup.objects.get().impressions == 1
