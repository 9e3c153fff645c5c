"""On PostgreSQL: events land in day partitions, concurrent replays still count once, retention drops days."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from analytics import partitions
from analytics.ingestion import record_events
from analytics.models import Event, EventKey
from analytics.rollups import apply_retention
from tests.analytics.factories import event
from tests.factories import PlacementFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


def test_concurrent_replays_of_one_batch_accept_each_event_exactly_once():
    PlacementFactory(slug="home-banner")
    batch = [event(placement="home-banner", user_id=f"u-{i}") for i in range(300)]
    results, barrier = [], threading.Barrier(4)

    def send():
        try:
            barrier.wait()
            results.append(record_events(batch))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(r.accepted for r in results) == 300
    assert sum(r.duplicates for r in results) == 900
    assert Event.objects.count() == 300


def test_events_land_in_day_partitions_and_retention_drops_old_days():
    PlacementFactory(slug="home-banner")
    now = timezone.now()
    assert partitions.is_partitioned()
    assert now.date() in partitions.list_partitions()
    old = now - timedelta(days=30)
    record_events([event(placement="home-banner", ts=old), event(placement="home-banner", ts=now)])
    # The old day had no partition: its event waits in the default one until the day gets its own.
    partitions.ensure_partitions_for_range(first=old.date(), last=old.date())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.partition_name(old.date())}")
        assert cursor.fetchone()[0] == 1
        cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 0

    result = apply_retention(days=10)

    assert result["dropped_partitions"] >= 1
    assert old.date() not in partitions.list_partitions()
    assert Event.objects.count() == 1
    assert EventKey.objects.count() == 1
