"""The demo's ranking step runs the whole loop on whatever placements the catalogue step made."""

from __future__ import annotations

from io import StringIO

import pytest

from creative.demo_context import DemoContext
from ranking import demo
from ranking.models import Experiment
from tests.factories import PlacementFactory

from .factories import catalogue

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_step_explores_trains_and_starts_an_ab_test_per_placement():
    placement, _ = catalogue()
    empty = PlacementFactory(slug="nothing-live")
    out = StringIO()
    ctx = DemoContext(stdout=out, placements=[placement, empty], users=2000)

    demo.run(ctx)

    slug = ctx.extras["experiments"][placement.slug]
    assert Experiment.objects.get(slug=slug).status == "running"
    assert ctx.extras["model_versions"][placement.slug]
    assert set(ctx.extras["simulation"][placement.slug]["ab"]["buckets"]) == {"control", "random", "model"}
    text = out.getvalue()
    assert "ground truth" in text and "nothing-live: no live variants" in text
