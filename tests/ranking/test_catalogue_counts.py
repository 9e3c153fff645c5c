"""The catalogue knows how often each live variant was shown without counting the events table.

Impressions reach the catalogue through the rollup refresh (counters.VariantImpressions): exact under
replays, late events and recounts, kept through a retention prune, and read with one small query.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.ingestion import record_events
from analytics.models import Event
from analytics.rollups import apply_retention, rebuild_rollups, recount_impression_totals, refresh_rollups
from counters.models import VariantImpressions
from ranking import serving
from tests.analytics.factories import event
from tests.factories import DecisionFactory, PlacementFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def placement():
    return PlacementFactory(slug="home-banner")


def _catalogue_counts(placement) -> dict[int, int]:
    serving.invalidate_catalogue(placement.id)
    cat = serving.get_catalogue(placement.slug)
    return {v["id"]: int(n) for v, n in zip(cat.variants, cat.impressions, strict=True)}


def _impressions(placement, variant, n, *, days_ago=0, user="u"):
    when = timezone.now() - timedelta(days=days_ago)
    return [event(placement=placement.slug, variant_id=variant.id, user_id=f"{user}-{i}", ts=when) for i in range(n)]


def test_counts_follow_ingestion_across_days_and_ignore_clicks_and_replays(placement):
    a, b, c = (StyleVariantFactory(placement=placement) for _ in range(3))
    today = _impressions(placement, a, 7) + _impressions(placement, b, 3)
    earlier = _impressions(placement, a, 4, days_ago=2, user="old")
    clicks = [dict(e, event_id=uuid.uuid4().hex, type="click") for e in today[:5]]
    assert record_events(today + earlier + clicks).accepted == 7 + 3 + 4 + 5
    assert record_events(today).duplicates == len(today)  # a replay stores nothing

    assert _catalogue_counts(placement) == {a.id: 0, b.id: 0, c.id: 0}  # not refreshed yet
    refresh_rollups()
    assert _catalogue_counts(placement) == {a.id: 11, b.id: 3, c.id: 0}

    record_events(_impressions(placement, c, 2, user="later"))  # a later batch on a day already counted
    refresh_rollups()
    assert _catalogue_counts(placement) == {a.id: 11, b.id: 3, c.id: 2}
    assert _catalogue_counts(placement)[a.id] == Event.objects.filter(variant_id=a.id, type="impression").count()


def test_a_late_event_counts_once_its_decision_confirms_it(placement):
    variant = StyleVariantFactory(placement=placement)
    decision_id = uuid.uuid4()
    record_events([event(placement=placement.slug, variant_id=variant.id, user_id="u-late", decision_id=decision_id)])
    refresh_rollups()
    assert _catalogue_counts(placement) == {variant.id: 0}  # held: counted nowhere

    DecisionFactory(decision_id=decision_id, placement=placement, user_id="u-late",
                    items=[{"variant_id": variant.id, "rank": 1, "propensity": 1.0}])
    refresh_rollups()
    refresh_rollups()  # a second refresh with nothing dirty changes nothing
    assert _catalogue_counts(placement) == {variant.id: 1}


def test_recounting_days_and_a_retention_prune_keep_the_counts(placement):
    variant = StyleVariantFactory(placement=placement)
    record_events(_impressions(placement, variant, 6, days_ago=20, user="old")
                  + _impressions(placement, variant, 5, user="new"))
    refresh_rollups()
    assert _catalogue_counts(placement) == {variant.id: 11}

    rebuild_rollups(placement_id=placement.id)  # recounting every day moves nothing
    assert _catalogue_counts(placement) == {variant.id: 11}

    apply_retention(days=10)
    assert Event.objects.filter(type="impression").count() == 5
    rebuild_rollups(placement_id=placement.id)
    # The variant was shown 11 times: pruning raw events does not make it new again.
    assert _catalogue_counts(placement) == {variant.id: 11}
    assert recount_impression_totals(placement_id=placement.id) == 1
    assert VariantImpressions.objects.get(variant_id=variant.id).impressions == 11


def test_a_rank_that_reloads_the_catalogue_never_counts_events(rank, placement, settings):
    settings.KALEIDO_RANK_CATALOGUE_TTL = 0.0  # every call reloads, as a cold process does
    variants = [StyleVariantFactory(placement=placement) for _ in range(5)]
    record_events(_impressions(placement, variants[0], 30))
    refresh_rollups()

    serving.invalidate_catalogue(placement.id)
    with CaptureQueriesContext(connection) as queries:
        rank(placement.slug, user_id="u-9", k=2)
        rank(placement.slug, user_id="u-10", k=2)

    texts = [q["sql"].lower() for q in queries.captured_queries]
    assert not [t for t in texts if "analytics_event" in t], "a rank read the events table"
    assert sum("counters_variantimpressions" in t for t in texts) >= 1  # the reload read the running totals


def test_the_totals_are_rebuilt_from_the_rollups_after_a_restore(placement):
    from io import StringIO

    from django.core.management import call_command

    a, b = StyleVariantFactory(placement=placement), StyleVariantFactory(placement=placement)
    record_events(_impressions(placement, a, 4) + _impressions(placement, b, 2, user="b"))
    refresh_rollups()
    VariantImpressions.objects.all().delete()  # a restore that brought the rollups back without the totals
    assert _catalogue_counts(placement) == {a.id: 0, b.id: 0}

    out = StringIO()
    call_command("refresh_rollups", "--recount-totals", stdout=out)
    assert "2 variant(s)" in out.getvalue()
    assert _catalogue_counts(placement) == {a.id: 4, b.id: 2}
