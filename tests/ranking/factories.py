"""Catalogues and logged traffic for the ranking tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from analytics.ingestion import record_events
from creative.models import Placement, StyleVariant
from ranking import simulator
from ranking.models import Decision
from tests.factories import PlacementFactory, StyleVariantFactory

BUTTONS = ("blue", "red", "gold")
LAYOUTS = ("single", "grid", "list")
APPEALS = ("plain", "benefit")
STYLES = ("photo", "flat")


def catalogue(slug: str = "wealth-home-banner", **placement_fields) -> tuple[Placement, list[StyleVariant]]:
    """A placement with 36 live variants: every button colour × layout × appeal × visual style.

    The control design is the red, single-layout, benefit, photo variant: nobody's favourite.
    """
    placement = PlacementFactory(slug=slug, **placement_fields)
    variants = []
    for button, layout, appeal, style in itertools.product(BUTTONS, LAYOUTS, APPEALS, STYLES):
        variants.append(StyleVariantFactory(
            placement=placement, variant_key=f"{button}-{layout}-{appeal}-{style}",
            tags={"button_color": [button], "layout": [layout], "appeal": [appeal], "visual_style": [style]},
        ))
    placement.control_variant = next(v for v in variants if v.variant_key == "red-single-benefit-photo")
    placement.save()
    return placement, variants


def log_random_traffic(placement: Placement, variants: list[StyleVariant], *, users: int, seed: int = 0,
                       start: datetime | None = None) -> int:
    """Logged decisions of a uniform random bucket with their impressions and ground-truth clicks.

    Written through the same services as live traffic (Decision rows, analytics.record_events), without
    HTTP round trips, so training tests stay quick. Returns the number of clicks.
    """
    rng = np.random.default_rng(seed)
    start = start or datetime.now(UTC) - timedelta(hours=2)
    population = simulator.make_users(users, seed=seed, prefix=f"log{seed}")
    decisions, events, clicks = [], [], 0
    for i, user in enumerate(population):
        variant = variants[rng.integers(len(variants))]
        decision_id = uuid.uuid4()
        created = start + timedelta(seconds=i)
        decisions.append(Decision(
            decision_id=decision_id, placement=placement, user_id=user.user_id, features=user.features,
            context=user.context, bucket="random", assigned_bucket="random", candidates=len(variants),
            items=[{"variant_id": variant.id, "rank": 1, "score": None, "propensity": 1 / len(variants)}],
            created_at=created,
        ))
        base = {"decision_id": str(decision_id), "variant_id": variant.id, "user_id": user.user_id,
                "placement": placement.slug, "position": 1, "ts": created.isoformat()}
        events.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
        if rng.random() < simulator.click_probability(user, variant.tags, variant_key=variant.variant_key):
            events.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
            clicks += 1
    Decision.objects.bulk_create(decisions, batch_size=500)
    for i in range(0, len(events), 1000):
        result = record_events(events[i:i + 1000])
        assert not result.rejected, result.rejected[:3]
    return clicks
