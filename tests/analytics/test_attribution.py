"""An analyst asks which segments prefer which tags, and gets the planted truth back, nothing more."""

from __future__ import annotations

import pytest

from analytics.attribution import impression_frame, top_findings
from ranking.simulator import NEUTRAL_TAG_GROUPS, PLANTED_PREFERENCES
from tests.analytics.factories import log_simulated_random_bucket, simulated_catalogue
from tests.factories import PlacementFactory

pytestmark = pytest.mark.django_db


def _band_overlaps(preference, value: str) -> bool:
    """Does the reported band/value intersect the planted segment?"""
    if preference.op == "eq":
        expected = str(preference.threshold).lower() if isinstance(preference.threshold, bool) \
            else str(preference.threshold)
        return value == expected
    text = value.replace(",", "")
    if text.startswith("<"):
        low, high = -1e18, float(text[1:])
    elif text.endswith("+"):
        low, high = float(text[:-1]), 1e18
    else:
        parts = text.split("–")
        low, high = float(parts[0]), float(parts[-1]) + 1
    return low < preference.threshold if preference.op == "lt" else high > preference.threshold


@pytest.fixture(scope="module")
def simulated_placement(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        placement = PlacementFactory(slug="sim-banner")
        variants = simulated_catalogue(placement)
        log_simulated_random_bucket(placement=placement, variants=variants, users=40_000, seed=1)
        yield placement
        # Outside any test's transaction: remove what has no foreign key to the placement too, or later
        # tests would find this module's event keys and dirty days.
        from analytics.models import Event, EventKey, RollupDirty

        EventKey.objects.filter(event_id__in=Event.objects.filter(placement=placement).values("event_id")).delete()
        RollupDirty.objects.filter(placement_id=placement.id).delete()
        placement.delete()


@pytest.mark.slow
def test_findings_recover_every_planted_preference_and_nothing_in_neutral_groups(simulated_placement):
    findings = top_findings(placement=simulated_placement)

    for preference in PLANTED_PREFERENCES:
        matches = [f for f in findings if f["segment_feature"] == preference.feature
                   and f["tag_group"] == preference.group and f["tag_value"] == preference.value
                   and _band_overlaps(preference, f["segment_value"])]
        assert matches, f"not recovered: {preference.segment} × {preference.group}={preference.value}"
        direction = "prefer" if preference.effect > 0 else "avoid"
        assert all(f["direction"] == direction for f in matches), matches
    assert not [f for f in findings if f["tag_group"] in NEUTRAL_TAG_GROUPS]
    assert findings[0]["text"].count("×") == 1 and "impressions" in findings[0]["text"]


@pytest.mark.slow
def test_the_attribution_endpoint_returns_the_grid_with_normalized_preference(api_client_with,
                                                                             simulated_placement):
    client = api_client_with("analytics:read")

    response = client.get("/api/v1/placements/sim-banner/attribution?segment=age&tag_group=button_color")

    assert response.status_code == 200
    body = response.json()
    young_blue = next(c for c in body["cells"] if c["segment_value"] == "18–24" and c["tag_value"] == "blue")
    assert young_blue["normalized_preference"] > 1.5
    assert young_blue["normalized_preference_ci"][0] > 1
    assert young_blue["impressions"] >= 150 and young_blue["clicks"] > 0
    assert body["weighting"] == "none"
    assert any("ages 18–24 prefer button_color = blue" in f["text"] for f in body["findings"])
    bad = client.get("/api/v1/placements/sim-banner/attribution?segment=age")
    assert bad.status_code == 400 and "tag_group" in bad.json()["errors"]


@pytest.mark.slow
def test_each_logged_impression_is_joined_with_its_decision_and_click(simulated_placement):
    frame = impression_frame(placement=simulated_placement, buckets=["random"])
    assert len(frame) == 40_000
    assert frame["clicked"].sum() > 0


@pytest.mark.slow
def test_the_explainable_model_ranks_a_planted_segment_by_tag_pair_in_its_top_three(
        api_client_with, simulated_placement, django_capture_on_commit_callbacks):
    client = api_client_with("analytics:read")

    with django_capture_on_commit_callbacks(execute=True):
        first = client.get("/api/v1/placements/sim-banner/explain")  # starts the job (eager here)
    body = client.get("/api/v1/placements/sim-banner/explain").json()

    assert first.status_code in (200, 202)
    assert body["status"] == "ready", body.get("error")
    top_pairs = [p["name"] for p in body["pairs"][:3]]
    planted = {f"{p.feature} & tag:{p.group}" for p in PLANTED_PREFERENCES}
    assert planted & set(top_pairs), top_pairs
    assert all(name in planted for name in top_pairs), top_pairs
    assert {t["type"] for t in body["terms"]} == {"main", "pair"}
    assert body["pairs"][0]["shape"]["scores"]
