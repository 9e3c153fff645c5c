"""Catalogues and logged traffic for the ranking tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from creative.models import Placement, StyleVariant
from ranking import simulator
from tests.factories import PlacementFactory, StyleVariantFactory
from tests.support.traffic import LoggedImpression, write_traffic

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
    shown = []
    for i, user in enumerate(simulator.make_users(users, seed=seed, prefix=f"log{seed}")):
        variant = variants[rng.integers(len(variants))]
        clicked = bool(rng.random() < simulator.click_probability(user, variant.tags, variant_key=variant.variant_key))
        shown.append(LoggedImpression(
            placement=placement, user_id=user.user_id, variant_id=variant.id, created_at=start + timedelta(seconds=i),
            bucket="random", candidates=len(variants), features=user.features, context=user.context, clicked=clicked))
    write_traffic(shown, batch_size=500)
    return sum(s.clicked for s in shown)
