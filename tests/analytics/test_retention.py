"""The retention job prunes old decisions like old events, and keeps imported history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import rollups
from analytics.rollups import apply_retention
from ranking.models import Decision
from tests.factories import DecisionFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def test_decisions_older_than_their_retention_are_deleted_and_history_is_kept(settings, monkeypatch):
    settings.KALEIDO_DECISION_RETENTION_DAYS = 30
    monkeypatch.setattr(rollups, "DECISION_DELETE_CHUNK", 2)  # several chunks
    placement = PlacementFactory(slug="home-banner")
    now = timezone.now()
    old = [DecisionFactory(placement=placement, created_at=now - timedelta(days=31 + i)) for i in range(5)]
    recent = DecisionFactory(placement=placement, created_at=now - timedelta(days=29))
    imported = DecisionFactory(placement=placement, created_at=now - timedelta(days=900), historical=True)

    result = apply_retention()

    assert result["deleted_decisions"] == len(old)
    assert set(Decision.objects.values_list("decision_id", flat=True)) == {recent.decision_id, imported.decision_id}
