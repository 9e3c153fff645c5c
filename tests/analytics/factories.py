"""Factories and payload builders for analytics tests."""

from __future__ import annotations

import uuid
from datetime import datetime

import factory
from django.utils import timezone

from ranking.models import Decision, Experiment
from tests.factories import PlacementFactory


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Experiment

    slug = factory.Sequence(lambda n: f"exp-{n}")
    placement = factory.SubFactory(PlacementFactory)
    buckets = factory.LazyFunction(lambda: {"control": 0.5, "model": 0.5})
    salt = factory.Sequence(lambda n: f"salt-{n}")


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    placement = factory.SubFactory(PlacementFactory)
    user_id = factory.Sequence(lambda n: f"u-{n}")
    features = factory.LazyFunction(lambda: {"age": 30, "gender": "f"})
    bucket = "random"
    items = factory.LazyFunction(list)
    created_at = factory.LazyFunction(timezone.now)


def event(*, placement: str, type: str = "impression", variant_id: int = 1, user_id: str = "u-1",  # noqa: A002
          decision_id: uuid.UUID | str | None = None, ts: datetime | str | None = None,
          event_id: str | None = None, position: int = 1) -> dict:
    """One event as a client sends it."""
    when = ts or timezone.now()
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "type": type,
        "decision_id": str(decision_id) if decision_id else None,
        "variant_id": variant_id,
        "user_id": user_id,
        "placement": placement,
        "position": position,
        "ts": when if isinstance(when, str) else when.isoformat().replace("+00:00", "Z"),
    }
