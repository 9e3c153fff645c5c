"""An analyst's attribution grid comes from the placement's prepared snapshot, equal to what a live read
computes, says how old it is, and goes live again when the snapshot is too old or does not hold the ask."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from analytics import attribution, attribution_snapshots
from analytics.models import AttributionSnapshot, AttributionSnapshotGrid
from analytics.rollups import refresh_rollups
from analytics.tasks import refresh_attribution_snapshots_task
from tests.factories import PlacementFactory, StyleVariantFactory
from tests.support.traffic import LoggedImpression, write_traffic

pytestmark = pytest.mark.django_db

GRID = "/api/v1/placements/{slug}/attribution"
ADDED_KEYS = ("source", "computed_at", "age_s", "data_through")


@pytest.fixture(autouse=True)
def small_world_settings(settings):
    settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT = 20  # a few hundred impressions: cells that can be tested
    settings.KALEIDO_SEGMENT_MAX_LEVELS = 10  # 40 device ids: not a segment
    settings.KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S = 3600.0


@pytest.fixture
def with_a_worker(settings, monkeypatch):
    """A deployment with a worker and beat: reads never recount rollups, the job keeps the snapshots. The
    tasks a test sends still run in-process (the Celery app itself stays eager)."""
    from kaleido.celery import app

    # Celery's configuration reads Django's settings live: pin the app's own value first, so what the
    # monkeypatch puts back afterwards is the eager True, not the False set for this test (which would
    # stay in the app's configuration for every later test on this process).
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.CELERY_TASK_ALWAYS_EAGER = False


def _catalogue(placement):
    return [StyleVariantFactory(placement=placement, tags={"button_color": [color], "layout": [layout]})
            for color in ("blue", "red") for layout in ("grid", "single")]


def _log(placement, variants, *, users: int, seed: int, prefix: str = "u") -> int:
    """Random-bucket traffic: `users` users × 6 impressions; pro users click red more. Returns impressions."""
    rng = np.random.default_rng(seed)
    shown = []
    for u in range(users):
        features = {"age": int(rng.integers(18, 70)), "plan": "pro" if u % 3 else "free",
                    "device_id": f"{prefix}-device-{u}"}
        for i in range(6):
            variant = variants[int(rng.integers(len(variants)))]
            rate = 0.35 if features["plan"] == "pro" and variant.tags["button_color"] == ["red"] else 0.12
            shown.append(LoggedImpression(placement=placement, user_id=f"{prefix}-{u}", variant_id=variant.id,
                                          created_at=timezone.now() - timedelta(minutes=10 * i),
                                          candidates=len(variants), features=features,
                                          clicked=bool(rng.random() < rate)))
    write_traffic(shown)
    return len(shown)


@pytest.fixture
def logged():
    placement = PlacementFactory(slug="snap-banner")
    variants = _catalogue(placement)
    impressions = _log(placement, variants, users=40, seed=3)
    refresh_rollups()  # what the rollup job has done before the snapshot job runs
    return placement, variants, impressions


def _live(placement, segment: str, tag_group: str, **params) -> dict:
    """What the grid read computed before snapshots, rendered as the API renders it."""
    grid = attribution.attribution_grid(placement=placement, segment=segment, tag_group=tag_group, **params)
    return json.loads(json.dumps(grid, cls=JSONEncoder))


def _without_age(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ADDED_KEYS}


def _get(client, placement, **query):
    return client.get(GRID.format(slug=placement.slug), query)


def test_every_prepared_grid_is_the_live_grid_of_the_same_data(logged, api_client_with, with_a_worker):
    placement, _, impressions = logged
    client = api_client_with("analytics:read")

    snapshot = attribution_snapshots.compute_snapshot(placement=placement)

    assert snapshot.complete and snapshot.impressions == impressions
    assert {(g.segment, g.tag_group) for g in snapshot.grids.all()} == {
        (feature, group) for feature in ("age", "plan") for group in ("button_color", "layout")}
    assert [s["feature"] for s in snapshot.skipped_features] == ["device_id"]
    for segment, group in [("age", "button_color"), ("age", "layout"), ("plan", "button_color"), ("plan", "layout"),
                           ("country", "layout"), ("plan", "font_scale")]:  # the last two: no impression has them
        body = _get(client, placement, segment=segment, tag_group=group).json()
        assert body["source"] == "snapshot" and body["computed_at"] == snapshot.computed_at.isoformat()
        assert _without_age(body) == _live(placement, segment, group)
    red_for_pro = _get(client, placement, segment="plan", tag_group="button_color").json()
    assert any(c["segment_value"] == "pro" and c["tag_value"] == "red" and c["supported"]
               for c in red_for_pro["cells"])


def test_new_events_are_in_the_answer_after_the_next_refresh_and_until_then_it_says_its_age(
        logged, api_client_with, with_a_worker):
    placement, variants, impressions = logged
    client = api_client_with("analytics:read")
    first = attribution_snapshots.compute_snapshot(placement=placement)
    AttributionSnapshot.objects.filter(pk=first.pk).update(computed_at=first.computed_at - timedelta(minutes=5))
    AttributionSnapshotGrid.objects.filter(snapshot=first).update(computed_at=first.computed_at - timedelta(minutes=5))

    more = _log(placement, variants, users=20, seed=4, prefix="w")
    before_refresh = _get(client, placement, segment="plan", tag_group="button_color").json()

    assert before_refresh["source"] == "snapshot" and before_refresh["impressions"] == impressions
    assert before_refresh["age_s"] >= 300
    assert attribution_snapshots.placements_due() == []  # the rollups have not counted the new events yet

    refresh_rollups()
    assert attribution_snapshots.placements_due() == [placement.id]
    assert refresh_attribution_snapshots_task() == [placement.id]  # the job (eager here) recomputes it
    after = _get(client, placement, segment="plan", tag_group="button_color").json()

    assert after["source"] == "snapshot" and after["impressions"] == impressions + more
    assert after["age_s"] < before_refresh["age_s"]
    assert _without_age(after) == _live(placement, "plan", "button_color")
    assert attribution_snapshots.placements_due() == []  # nothing moved since: the next beat does nothing


def test_a_snapshot_older_than_the_max_age_is_not_served(logged, api_client_with, with_a_worker, settings):
    placement, _, _ = logged
    client = api_client_with("analytics:read")
    snapshot = attribution_snapshots.compute_snapshot(placement=placement)
    old = snapshot.computed_at - timedelta(seconds=settings.KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S + 1)
    AttributionSnapshot.objects.filter(pk=snapshot.pk).update(computed_at=old)
    AttributionSnapshotGrid.objects.filter(snapshot=snapshot).update(computed_at=old)

    stale = _get(client, placement, segment="age", tag_group="layout").json()
    again = _get(client, placement, segment="age", tag_group="layout").json()

    assert stale["source"] == "live" and stale["age_s"] == 0
    assert _without_age(stale) == _live(placement, "age", "layout")
    assert again["source"] == "snapshot" and _without_age(again) == _without_age(stale)  # kept by the live read
    assert attribution_snapshots.placements_due() == [placement.id]  # too old: the job recomputes it


@pytest.mark.parametrize("params", [{"min_support": 5}, {"days": 7}, {"buckets": "random,model"}])
def test_parameters_other_than_the_defaults_are_computed_live(logged, api_client_with, with_a_worker, params):
    placement, _, _ = logged
    client = api_client_with("analytics:read")
    attribution_snapshots.compute_snapshot(placement=placement)
    grids = AttributionSnapshotGrid.objects.count()

    body = _get(client, placement, segment="plan", tag_group="button_color", **params).json()

    python_params = {**params, "buckets": attribution.split_buckets(params.get("buckets", "random"))}
    assert body["source"] == "live"
    assert _without_age(body) == _live(placement, "plan", "button_color", **python_params)
    assert AttributionSnapshotGrid.objects.count() == grids


def test_a_high_cardinality_segment_is_still_refused_with_or_without_a_snapshot(logged, api_client_with,
                                                                                  with_a_worker):
    placement, _, _ = logged
    client = api_client_with("analytics:read")

    live = _get(client, placement, segment="device_id", tag_group="layout")
    attribution_snapshots.compute_snapshot(placement=placement)
    prepared = _get(client, placement, segment="device_id", tag_group="layout")

    assert live.status_code == prepared.status_code == 400
    assert "KALEIDO_SEGMENT_MAX_LEVELS" in prepared.json()["errors"]["segment"][0]
    assert prepared.json() == live.json()


def test_in_the_embedded_default_a_read_keeps_the_grid_and_the_next_events_make_it_live_again(
        logged, api_client_with):
    placement, variants, impressions = logged
    client = api_client_with("analytics:read")

    expected = _live(placement, "plan", "layout")

    first = _get(client, placement, segment="plan", tag_group="layout").json()
    second = _get(client, placement, segment="plan", tag_group="layout").json()
    more = _log(placement, variants, users=10, seed=5, prefix="x")  # dirty days; the read recounts them
    third = _get(client, placement, segment="plan", tag_group="layout").json()

    assert (first["source"], second["source"], third["source"]) == ("live", "snapshot", "live")
    assert _without_age(second) == _without_age(first) == expected
    assert first["impressions"] == impressions and third["impressions"] == impressions + more
    assert _without_age(third) == _live(placement, "plan", "layout")
    assert not AttributionSnapshot.objects.get(placement=placement).complete  # only the grids read are kept


def test_a_placement_without_impressions_answers_an_empty_grid_from_its_snapshot(api_client_with, with_a_worker):
    placement = PlacementFactory(slug="quiet-banner")
    client = api_client_with("analytics:read")
    snapshot = attribution_snapshots.compute_snapshot(placement=placement)

    body = _get(client, placement, segment="age", tag_group="layout").json()

    assert snapshot.complete and snapshot.impressions == 0 and not snapshot.grids.exists()
    assert body["source"] == "snapshot" and body["data_through"] is None
    assert _without_age(body) == _live(placement, "age", "layout")


def test_the_job_keeps_only_the_placements_analysts_read(logged, api_client_with, with_a_worker):
    placement, variants, _ = logged
    quiet = PlacementFactory(slug="unread-banner")
    _log(quiet, _catalogue(quiet), users=10, seed=6, prefix="q")
    refresh_rollups()
    client = api_client_with("analytics:read")

    assert attribution_snapshots.placements_due() == []  # nobody has read either: nothing is computed
    first = _get(client, placement, segment="plan", tag_group="layout").json()  # live, and kept
    assert first["source"] == "live"
    assert attribution_snapshots.placements_due() == [placement.id]  # now read: the job completes it
    attribution_snapshots.refresh_snapshots()
    assert AttributionSnapshot.objects.get(placement=placement).complete
    assert not AttributionSnapshot.objects.filter(placement=quiet).exists()

    _log(placement, variants, users=5, seed=7, prefix="y")
    refresh_rollups()
    AttributionSnapshot.objects.filter(placement=placement).update(
        read_at=timezone.now() - attribution_snapshots.READ_WINDOW - timedelta(hours=1))
    assert attribution_snapshots.placements_due() == []  # new events, but unread for longer than the window
