"""Attribution reads the interaction log without its timestamps, and answers exactly as with them."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from analytics import attribution, interaction_log
from analytics.ingestion import record_events
from tests.analytics.factories import event
from tests.factories import DecisionFactory, PlacementFactory, StyleVariantFactory

pytestmark = pytest.mark.django_db

TIMES = ["decided_at", "ts", "clicked_at"]


def _logged_placement():
    """60 random-bucket impressions over an hour: two ages × two button colours, every third one clicked."""
    placement = PlacementFactory(slug="lean-banner")
    blue, red = (StyleVariantFactory(placement=placement, tags={"button_color": [c]}) for c in ("blue", "red"))
    start = timezone.now() - timedelta(hours=2)
    for i in range(60):
        variant = blue if i % 2 else red
        user = f"u-{i % 30}"
        decision = DecisionFactory(placement=placement, user_id=user, features={"age": 20 + 15 * (i % 3 == 0),
                                                                                "plan": "pro" if i % 4 else "free"},
                                   items=[{"variant_id": variant.id, "rank": 1, "propensity": 0.5,
                                           "tags": dict(variant.tags)}])
        shown = start + timedelta(minutes=i)
        base = {"placement": "lean-banner", "variant_id": variant.id, "user_id": user,
                "decision_id": decision.decision_id}
        events = [event(ts=shown, **base)]
        if i % 3 == 0:
            events.append(event(type="click", ts=shown + timedelta(seconds=5), **base))
        record_events(events)
    return placement


@pytest.mark.parametrize("limit", [None, 25])  # 25: a capped read, its clicks read from the oldest row kept on
def test_the_lean_read_is_the_full_read_less_its_timestamps(limit):
    placement = _logged_placement()

    full = interaction_log.bandit_feedback(placement=placement, limit=limit)
    lean = interaction_log.bandit_feedback(placement=placement, limit=limit, times=False)

    assert lean.capped == full.capped == (limit is not None)
    assert list(lean.frame.columns) == list(interaction_log.FEEDBACK_COLUMNS)
    assert full.frame["clicked"].sum() > 0 and full.frame["ts"].notna().all()
    assert lean.frame[TIMES].isna().all().all()
    assert all(isinstance(lean.frame[c].dtype, pd.DatetimeTZDtype) and str(lean.frame[c].dtype.tz) == "UTC"
               for c in TIMES)  # the same kind of column, so a reader that filters on one still runs
    rest = [c for c in interaction_log.FEEDBACK_COLUMNS if c not in TIMES]
    pd.testing.assert_frame_equal(lean.frame[rest], full.frame[rest])


def test_an_attribution_grid_is_the_same_whether_it_reads_the_timestamps_or_not():
    placement = _logged_placement()
    full = interaction_log.impression_frame(placement=placement)
    lean = attribution.impression_frame(placement=placement)

    assert lean["ts"].isna().all() and full["ts"].notna().all()
    grids = [attribution.attribution_grid(placement=placement, segment="age", tag_group="button_color", frame=f,
                                          min_support=1) for f in (full, lean)]
    assert grids[0]["impressions"] == 60 and {c["tag_value"] for c in grids[0]["cells"]} == {"blue", "red"}
    assert grids[1] == grids[0]
    assert attribution.attribution_grid(placement=placement, segment="age", tag_group="button_color",
                                        min_support=1) == grids[0]
