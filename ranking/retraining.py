"""Which placements have gathered enough new data to be worth retraining."""

from __future__ import annotations

from django.db.models import Max

from analytics.models import Event, EventType
from creative.models import Placement

from .models import Decision, ModelVersion


def placements_due(*, min_new: int) -> list[int]:
    """Placements with live variants and ≥ min_new impressions logged after their newest model's data."""
    last_data = dict(ModelVersion.objects.filter(scope=ModelVersion.Scope.DEDICATED)
                     .values("placement_id").annotate(last=Max("data_to")).values_list("placement_id", "last"))
    due = []
    for placement_id in Placement.objects.filter(variants__status="live").distinct().values_list("id", flat=True):
        decisions = Decision.objects.filter(placement_id=placement_id)
        since = last_data.get(placement_id)
        if since is not None:
            decisions = decisions.filter(created_at__gt=since)
        new = Event.objects.filter(placement_id=placement_id, type=EventType.IMPRESSION,
                                   decision_id__in=decisions.values("decision_id")).count()
        if new >= min_new:
            due.append(placement_id)
    return due
