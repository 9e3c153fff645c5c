"""The demo's ranking step runs the whole loop on whatever placements the catalogue step made."""

from __future__ import annotations

from io import StringIO

import pytest

from creative.demo_context import DemoContext
from ranking import demo
from ranking.models import Experiment, ModelVersion
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
    version = ctx.extras["model_versions"][placement.slug]
    text = out.getvalue()
    assert "ground truth" in text and "nothing-live: no live variants" in text
    buckets = set(ctx.extras["simulation"][placement.slug]["ab"]["buckets"])
    # 2,000 users may or may not prove the model to the gate; the demo says which, and serves accordingly.
    if ModelVersion.objects.get(version=version).is_active:
        assert f"model v{version} trained" in text and "active." in text
        assert buckets == {"control", "random", "model"}
    else:
        assert "not activated: " in text and "mean click rate" in text
        assert "model" not in buckets  # the model bucket falls back to the control design
