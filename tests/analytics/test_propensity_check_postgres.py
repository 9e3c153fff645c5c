"""On PostgreSQL the report's logging-health check runs in the database: it finds the same valid and
invalid decisions, per bucket, as checking the decisions one by one in Python."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics.experiments import propensity_checks
from analytics.interaction_log import decision_sample, propensity_check_counts
from ranking.models import Decision
from tests.factories import ExperimentFactory, PlacementFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# (bucket, candidates, items): well-logged decisions and each way one can be logged wrong.
DECISIONS = [
    ("random", 4, [{"variant_id": 1, "propensity": 0.25}, {"variant_id": 2, "propensity": 0.25}]),
    ("random", 3, [{"variant_id": 1, "propensity": 1 / 3}]),
    ("random", 4, [{"variant_id": 1, "propensity": 1.0}]),
    ("random", 4, [{"variant_id": 1, "propensity": 0.3}]),  # not 1/candidates
    ("random", 0, [{"variant_id": 1, "propensity": 0.3}]),  # candidates unknown: any p in (0, 1]
    ("random", 4, [{"variant_id": 1, "propensity": True}]),  # Python reads true as 1
    ("control", 4, [{"variant_id": 1, "propensity": 1}]),
    ("control", 4, [{"variant_id": 1, "propensity": 0.999}]),
    ("model", 4, [{"variant_id": 1, "propensity": 0.42}, {"variant_id": 2, "propensity": 1.0000000001}]),
    ("model", 4, [{"variant_id": 1, "propensity": 1.1}]),
    ("model", 4, [{"variant_id": 1, "propensity": 0}]),
    ("model", 4, [{"variant_id": 1, "propensity": -0.5}]),
    ("model", 4, [{"variant_id": 1, "propensity": "0.5"}]),
    ("model", 4, [{"variant_id": 1, "propensity": None}]),
    ("model", 4, [{"variant_id": 1}]),
    ("model", 4, [{"variant_id": 1, "propensity": False}]),
    ("model", 4, [{"variant_id": 1, "propensity": 1e-320}]),
    ("model", 4, [{"variant_id": 1, "propensity": 1e308}]),
    ("model", 4, ["not an item"]),
    ("model", 4, []),
    ("model", 4, {"variant_id": 1}),
]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the database-side check is PostgreSQL's")


def test_the_database_check_counts_what_the_python_check_counts():
    experiment = ExperimentFactory(slug="logged", placement=PlacementFactory(slug="home"),
                                   buckets={"control": 0.2, "random": 0.2, "model": 0.6})
    now = timezone.now()
    Decision.objects.bulk_create([
        Decision(placement=experiment.placement, user_id=f"u{i}", bucket=bucket, experiment=experiment,
                 candidates=candidates, items=items, created_at=now - timedelta(seconds=i))
        for i, (bucket, candidates, items) in enumerate(DECISIONS)])

    in_database = propensity_check_counts(experiment_id=experiment.id, limit=1000)
    in_python = propensity_checks(decision_sample(experiment_id=experiment.id, limit=1000))

    assert in_database == in_python
    assert in_python["random"] == (6, 5) and in_python["control"] == (2, 1)
    assert sum(n for n, _ in in_python.values()) == len(DECISIONS)
    # The sample is the most recent decisions, in the database as in Python.
    assert propensity_check_counts(experiment_id=experiment.id, limit=3) == propensity_checks(
        decision_sample(experiment_id=experiment.id, limit=3))
