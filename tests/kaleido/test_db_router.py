"""Report and dashboard GETs read from the replica alias; writes, sign-in and everything else stay on the primary.

The replica here is a test mirror of the default database (Django's TEST MIRROR), so the test proves the
routing, not replication: each alias is its own connection, and the queries are counted on each.
"""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test.utils import CaptureQueriesContext

from analytics.models import DailyRollup
from kaleido.db_router import REPLICA_ALIAS, ReplicaRouter, read_alias, replica_reads
from ranking.models import Experiment
from tests.factories import ExperimentFactory, PlacementFactory


@pytest.fixture(scope="module", autouse=True)
def replica_alias():
    """A `replica` alias mirroring the default test database, as DATABASE_REPLICA_URL would configure."""
    replica = copy.deepcopy(connections["default"].settings_dict)
    replica["TEST"] = {**replica.get("TEST", {}), "MIRROR": "default"}
    settings.DATABASES[REPLICA_ALIAS] = replica  # the same dict Django's connection handler reads
    yield
    connections[REPLICA_ALIAS].close()
    del settings.DATABASES[REPLICA_ALIAS]
    if hasattr(connections._connections, REPLICA_ALIAS):
        delattr(connections._connections, REPLICA_ALIAS)


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA_ALIAS])


def _tables_read(queries: CaptureQueriesContext) -> str:
    return " ".join(q["sql"].lower() for q in queries.captured_queries)


def test_the_router_sends_report_reads_to_the_replica_only_inside_replica_reads():
    router = ReplicaRouter()
    assert router.db_for_read(DailyRollup) is None and read_alias() == "default"
    with replica_reads():
        assert router.db_for_read(DailyRollup) == REPLICA_ALIAS and read_alias() == REPLICA_ALIAS
        assert router.db_for_read(Experiment) == REPLICA_ALIAS
        assert router.db_for_read(User) is None  # sign-in never lags
        assert router.db_for_write(DailyRollup) == "default"
    assert router.allow_migrate(REPLICA_ALIAS, "analytics") is False
    assert router.allow_migrate("default", "analytics") is True


def test_an_orm_read_inside_replica_reads_runs_on_the_replica_connection_and_a_write_on_the_primary():
    placement = PlacementFactory(slug="home-banner")
    with CaptureQueriesContext(connections[REPLICA_ALIAS]) as on_replica, \
            CaptureQueriesContext(connections["default"]) as on_primary, replica_reads():
        found = list(Experiment.objects.filter(placement=placement))
        ExperimentFactory(placement=placement)  # a write inside the block
    assert found == []
    assert "ranking_experiment" in _tables_read(on_replica) and "insert" not in _tables_read(on_replica)
    assert "insert into \"ranking_experiment\"" in _tables_read(on_primary)


def test_dashboard_and_report_gets_read_the_replica_and_a_rank_does_not(api_client_with):
    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(placement=placement, slug="spring")
    analyst = api_client_with("analytics:read")

    with CaptureQueriesContext(connections[REPLICA_ALIAS]) as on_replica, \
            CaptureQueriesContext(connections["default"]) as on_primary:
        daily = analyst.get(f"/dashboard/api/experiments/{experiment.slug}/daily")
        gallery = analyst.get("/dashboard/api/variants", {"placement": placement.slug})
    assert daily.status_code == 200 and gallery.status_code == 200, (daily.content, gallery.content)
    read = _tables_read(on_replica)
    assert "ranking_experiment" in read and "analytics_dailyrollup" in read
    assert "access_" not in read  # the API key is checked on the primary (a revoked key never lags)
    assert "analytics_dailyrollup" not in _tables_read(on_primary)

    with CaptureQueriesContext(connections[REPLICA_ALIAS]) as on_replica:
        client = api_client_with("rank")
        client.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": "u-1"}}, format="json")
    assert on_replica.captured_queries == []  # serving is not a report read


def test_the_embedded_rollup_refresh_inside_a_replica_get_reads_what_it_writes_on_the_primary():
    from analytics.ingestion import record_events
    from analytics.models import RollupDirty
    from analytics.rollups import refresh_for_read
    from tests.analytics.factories import event

    placement = PlacementFactory(slug="home-banner")
    record_events([event(placement=placement.slug, variant_id=3, user_id=f"u-{i}") for i in range(4)])
    assert settings.CELERY_TASK_ALWAYS_EAGER and RollupDirty.objects.exists()

    with CaptureQueriesContext(connections[REPLICA_ALIAS]) as on_replica, replica_reads():
        refresh_for_read(placement_id=placement.id)
    assert "analytics_rollupdirty" not in _tables_read(on_replica)
    assert not RollupDirty.objects.exists()
    assert DailyRollup.objects.get(placement=placement).impressions == 4
