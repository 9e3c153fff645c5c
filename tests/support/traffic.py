"""Logged traffic for tests: the one writer every test's simulated traffic goes through.

A test describes what happened (who saw which variant, from which bucket, with what propensity, and
whether they clicked or converted); `write_traffic` stores it as live traffic leaves it: a decision per
impression, then the impression, click and conversion events through analytics' ingestion (so events are
validated, deduplicated and rolled up like the real ones). Writing the decisions in bulk instead of
through /rank keeps large logs quick.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LoggedImpression:
    """One impression of one variant to one user, and what the user did."""

    placement: Any  # creative.models.Placement
    user_id: str
    variant_id: int
    created_at: datetime
    bucket: str = "random"
    propensity: float | None = None  # None: uniform over `candidates` for "random", 1.0 otherwise
    candidates: int = 1
    features: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    experiment: Any = None  # ranking.models.Experiment or None
    clicked: bool = False
    converted: bool = False
    decision_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def logged_propensity(self) -> float:
        if self.propensity is not None:
            return self.propensity
        return 1 / self.candidates if self.bucket == "random" else 1.0


def write_traffic(impressions: Iterable[LoggedImpression], *, batch_size: int = 1000) -> int:
    """Store the impressions' decisions and events; returns the number of events stored.

    Fails loudly if ingestion refuses an event: test traffic is meant to be valid.
    """
    from analytics.ingestion import record_events
    from ranking.models import Decision

    decisions, events = [], []
    for shown in impressions:
        decisions.append(Decision(
            decision_id=shown.decision_id, placement=shown.placement, user_id=shown.user_id,
            features=shown.features, context=shown.context, bucket=shown.bucket,
            assigned_bucket=shown.bucket, experiment=shown.experiment, created_at=shown.created_at,
            candidates=shown.candidates,
            items=[{"variant_id": shown.variant_id, "rank": 1, "score": None,
                    "propensity": shown.logged_propensity}],
        ))
        base = {"decision_id": str(shown.decision_id), "variant_id": shown.variant_id,
                "user_id": shown.user_id, "placement": shown.placement.slug, "position": 1,
                "ts": shown.created_at.isoformat().replace("+00:00", "Z")}
        kinds = ["impression"] + ["click"] * shown.clicked + ["conversion"] * (shown.clicked and shown.converted)
        events.extend({"event_id": uuid.uuid4().hex, "type": kind, **base} for kind in kinds)
    Decision.objects.bulk_create(decisions, batch_size=batch_size)
    stored = 0
    for start in range(0, len(events), batch_size):
        result = record_events(events[start:start + batch_size])
        assert not result.rejected, result.rejected[:3]
        stored += len(events[start:start + batch_size])
    return stored
