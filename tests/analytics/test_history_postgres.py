"""On PostgreSQL: imported history outlives the retention job's dropping of whole day partitions."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO

import pytest
from django.db import connection

from analytics import partitions
from analytics.imports import import_impressions, prune_history
from analytics.models import Event, EventKey
from analytics.rollups import apply_retention
from ranking.models import Decision
from tests.factories import PlacementFactory, StyleVariantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOG = ("user_id,variant_key,clicked,bucket,propensity,ts\n"
       "u-1,blue-grid,1,random,0.5,2019-11-24T10:00:00Z\n"
       "u-2,blue-grid,0,random,0.5,2019-11-25T09:00:00Z\n")


@pytest.fixture(autouse=True)
def _needs_partitions():
    if connection.vendor != "postgresql" or not partitions.is_partitioned():
        pytest.skip("needs PostgreSQL's partitioned events table")


def _live_event(placement, variant, event_id: str, when: datetime) -> None:
    Event.objects.create(event_id=event_id, type="impression", variant_id=variant.id, user_id="u-live",
                         placement=placement, ts=when)
    EventKey.objects.create(event_id=event_id, ts=when)


def test_retention_keeps_history_partitions_and_drops_the_rest():
    placement = PlacementFactory(slug="obd-banner")
    variant = StyleVariantFactory(placement=placement, variant_key="blue-grid")
    import_impressions(placement=placement, file=StringIO(LOG), historical=True)
    partitions.ensure_partitions_for_range(first=date(2019, 11, 26), last=date(2019, 11, 26))
    _live_event(placement, variant, "live-24", datetime.fromisoformat("2019-11-24T12:00:00+00:00"))
    _live_event(placement, variant, "live-26", datetime.fromisoformat("2019-11-26T12:00:00+00:00"))

    result = apply_retention()

    assert result["dropped_partitions"] >= 1  # the 26th held live rows only
    assert not Event.objects.filter(event_id__in=["live-24", "live-26"]).exists()  # live rows go
    assert Event.objects.filter(historical=True).count() == 3 and Decision.objects.count() == 2  # history stays
    assert EventKey.objects.filter(historical=True).count() == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('analytics_event_h20191124'), to_regclass('analytics_event_p20191124'),"
                       " to_regclass('analytics_event_p20191126')")
        kept, day, live_day = cursor.fetchone()
    assert kept is not None and day is None and live_day is None
    assert date(2019, 11, 24) not in partitions.list_partitions()  # never scanned again

    # Importing the same days again finds their history partitions: nothing fails, nothing doubles.
    import_impressions(placement=placement, file=StringIO(LOG), historical=True)
    assert Event.objects.count() == 3
    assert apply_retention()["dropped_partitions"] == 0

    removed = prune_history(placement=placement)
    assert (removed.decisions, removed.events, removed.keys) == (2, 3, 3)
    assert not Event.objects.exists() and not EventKey.objects.exists()
