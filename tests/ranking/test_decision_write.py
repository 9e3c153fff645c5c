"""Each rank call's decision is stored in one statement, exactly as given, without changing the session."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.utils import timezone

from ranking.decision_log import write_decision
from ranking.models import Decision
from tests.factories import PlacementFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_decision_written_outside_a_transaction_reads_back_whole_and_leaves_the_session_durable(settings):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    settings.KALEIDO_DECISION_ASYNC_COMMIT = True
    placement = PlacementFactory(slug="write-banner")
    decision = Decision(
        decision_id=uuid.uuid4(), placement=placement, user_id="u-7", bucket="model", assigned_bucket="model",
        features={"age": 31, "city": "上海", "vip": True, "quote": "it's \"fine\""}, context={"device": "ios"},
        model_version="12", created_at=timezone.now(), candidates=36,
        items=[{"variant_id": 5, "rank": 1, "score": 0.031, "propensity": 0.82}],
    )
    statements = []
    with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
        write_decision(decision)

    assert len(statements) == 1 and "synchronous_commit" in statements[0]
    stored = Decision.objects.get(decision_id=decision.decision_id)
    assert (stored.placement_id, stored.user_id, stored.bucket, stored.model_version, stored.candidates) == (
        placement.id, "u-7", "model", "12", 36)
    assert stored.features == decision.features and stored.context == {"device": "ios"}
    assert stored.items == decision.items and stored.experiment_id is None
    assert stored.created_at == decision.created_at
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # the setting was local to that one statement's transaction
