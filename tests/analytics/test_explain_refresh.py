"""Analysts ask for a fresh explanation: one EBM fit per placement runs at a time, whoever asks."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.explain import FIT_STALE_S, explanation_compute, explanation_for
from analytics.models import PlacementExplanation
from tests.factories import PlacementFactory

pytestmark = pytest.mark.django_db

LAST = {"terms": [{"name": "age", "type": "main", "features": ["age"], "importance": 0.4}]}


@pytest.fixture
def explained():
    placement = PlacementFactory(slug="home-banner")
    PlacementExplanation.objects.create(placement=placement, status="ready", result=LAST, rows=900,
                                        computed_at=timezone.now())
    return placement


def test_a_second_refresh_while_a_fit_runs_gets_the_last_result_and_sends_no_job(
        explained, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first_jobs:
        first = explanation_for(placement=explained, refresh=True)
    with django_capture_on_commit_callbacks() as second_jobs:
        second = explanation_for(placement=explained, refresh=True)

    assert len(first_jobs) == 1 and first["status"] == "pending" and "detail" not in first
    assert len(second_jobs) == 0
    assert second["status"] == "pending" and second["terms"] == LAST["terms"] and second["rows"] == 900
    assert "already running" in second["detail"]


def test_a_fit_pending_too_long_is_taken_for_lost_and_may_be_asked_again(
        explained, django_capture_on_commit_callbacks):
    PlacementExplanation.objects.filter(placement=explained).update(
        status="pending", requested_at=timezone.now() - timedelta(seconds=FIT_STALE_S + 1))
    with django_capture_on_commit_callbacks() as jobs:
        explanation_for(placement=explained, refresh=True)
    assert len(jobs) == 1


def test_a_doubled_job_does_not_fit_while_another_holds_the_placement(explained):
    PlacementExplanation.objects.filter(placement=explained).update(status="pending")
    cache.add(f"explain-fit:{explained.pk}", 1, timeout=60)  # another worker is fitting

    explanation_compute(placement_id=explained.pk)

    stored = PlacementExplanation.objects.get(placement=explained)
    assert (stored.status, stored.result) == ("pending", LAST)
