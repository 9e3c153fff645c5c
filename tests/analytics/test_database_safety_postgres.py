"""On PostgreSQL: a busy events table defers partition upkeep instead of stalling ingestion, and a
database that is too slow or locked answers 503, never 500."""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics import partitions
from analytics.ingestion import record_events
from analytics.models import Event
from tests.analytics.factories import event
from tests.factories import PlacementFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


class _Holder:
    """Another session holding a table lock, as a long report query or a stuck migration would."""

    def __init__(self, table: str, mode: str):
        db = settings.DATABASES["default"]
        self.conn = psycopg.connect(dbname=connection.settings_dict["NAME"], user=db["USER"], host=db["HOST"],
                                    port=db["PORT"] or 5432, password=db.get("PASSWORD") or None)
        self.conn.execute(f"LOCK TABLE {table} IN {mode} MODE")

    def release(self):
        self.conn.rollback()
        self.conn.close()


def test_a_partition_whose_lock_is_busy_is_deferred_and_ingestion_goes_on(caplog):
    PlacementFactory(slug="home-banner")
    day = timezone.now().date() + timedelta(days=40)
    reader = _Holder("analytics_event", "ACCESS SHARE")  # a long report query
    try:
        with caplog.at_level(logging.WARNING, logger="analytics.partitions"):
            created = partitions.ensure_partitions_for_range(first=day, last=day)
        stored = record_events([event(placement="home-banner")])
    finally:
        reader.release()

    assert created == [] and day not in partitions.list_partitions()
    assert "deferred" in caplog.text
    assert stored.accepted == 1 and Event.objects.count() == 1
    assert partitions.ensure_partitions_for_range(first=day, last=day) == [day]  # the next run


def _post_events_with(api_client_with, setting: str):
    PlacementFactory(slug="home-banner")
    client = api_client_with("events")
    batch = [event(placement="home-banner")]
    with connection.cursor() as cursor:  # the same connection the view uses (same thread)
        cursor.execute(setting)
    holder = _Holder("analytics_eventkey", "ACCESS EXCLUSIVE")
    try:
        return client.post("/api/v1/events", {"events": batch}, format="json")
    finally:
        holder.release()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout; RESET statement_timeout")


def test_a_lock_wait_past_lock_timeout_answers_503(api_client_with):
    response = _post_events_with(api_client_with, "SET lock_timeout = '200ms'")
    assert response.status_code == 503
    assert response.has_header("Retry-After")


def test_a_statement_past_statement_timeout_answers_503(api_client_with):
    response = _post_events_with(api_client_with, "SET lock_timeout = 0; SET statement_timeout = '300ms'")
    assert response.status_code == 503


def test_connections_carry_the_configured_timeouts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout')")
        live = dict(cursor.fetchall())
    configured = connection.settings_dict["OPTIONS"]["options"]
    assert configured == f"-c statement_timeout={live['statement_timeout']} -c lock_timeout={live['lock_timeout']}"
    assert int(live["statement_timeout"]) > 0 and int(live["lock_timeout"]) > 0  # on by default
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] > 0


@pytest.mark.parametrize("query", ["segment=a%00b&tag_group=layout", "segment=age&tag_group=layout%00",
                                   "segment=age&tag_group=layout&days=99999999999999999999",
                                   "segment=age&tag_group=layout&min_support=-1"])
def test_report_parameters_the_database_could_not_take_are_a_400(api_client_with, query):
    PlacementFactory(slug="home-banner")
    response = api_client_with("analytics:read").get(f"/api/v1/placements/home-banner/attribution?{query}")
    assert response.status_code == 400
    assert response.json()["errors"]
