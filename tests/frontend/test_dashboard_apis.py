"""The dashboard's own read endpoints and the operators' model actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from ranking.models import ModelVersion
from ranking.services import experiment_start, train_model
from ranking.training import split_indices
from tests.factories import PlacementFactory, StyleVariantFactory
from tests.frontend.factories import serve_and_report, staff_user
from tests.ranking.factories import catalogue, log_random_traffic

# "__all__": ranking may log decisions on their own connection (an alias mirroring default).
pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def analyst():
    client = APIClient()
    client.force_login(staff_user("ana", "analysts"))
    return client


@pytest.fixture
def operator():
    client = APIClient()
    client.force_login(staff_user("opal", "operators"))
    return client


@pytest.fixture
def banner():
    placement = PlacementFactory(slug="home-banner", default_mode="random")
    variants = [
        StyleVariantFactory(placement=placement, variant_key="red-benefit",
                            tags={"button_color": ["red"], "appeal": ["benefit"]},
                            render_spec={"headline": "Earn 3% on savings", "language": "en"}),
        StyleVariantFactory(placement=placement, variant_key="blue-proof",
                            tags={"button_color": ["blue"], "appeal": ["social_proof"]},
                            render_spec={"headline": "今天已有 12,000 人购买", "language": "zh"}),
        StyleVariantFactory(placement=placement, variant_key="blue-draft", status="draft",
                            tags={"button_color": ["blue"]}, render_spec={"headline": "Not yet live"}),
    ]
    placement.control_variant = variants[0]
    placement.save()
    return placement


def test_the_gallery_shows_each_variant_with_the_ctr_of_its_events(analyst, banner):
    served = serve_and_report(banner, users=40, click_every=4)

    body = analyst.get("/dashboard/api/variants", {"placement": "home-banner"}).json()

    by_key = {v["variant_key"]: v for v in body["variants"]}
    assert set(by_key) == {"red-benefit", "blue-proof", "blue-draft"}
    for key, counts in served.items():
        assert by_key[key]["impressions"] == counts["impressions"]
        assert by_key[key]["clicks"] == counts["clicks"]
        assert by_key[key]["ctr"] == pytest.approx(counts["clicks"] / counts["impressions"])
    assert by_key["blue-draft"]["ctr"] is None, "never served: no CTR rather than 0%"
    assert by_key["red-benefit"]["is_control"] is True
    assert by_key["blue-proof"]["headline"] == "今天已有 12,000 人购买"
    assert body["status_counts"] == {"live": 2, "draft": 1}


def test_the_gallery_filters_by_status_tag_and_text(analyst, banner):
    def keys(**params):
        body = analyst.get("/dashboard/api/variants", {"placement": "home-banner", **params}).json()
        return sorted(v["variant_key"] for v in body["variants"])

    assert keys(tag="button_color=blue") == ["blue-draft", "blue-proof"]
    assert keys(tag="button_color=blue", status="live") == ["blue-proof"]
    assert keys(q="12,000") == ["blue-proof"]
    assert keys(q="nothing like this") == []


def test_the_gallery_rejects_bad_filters_with_field_messages(analyst, banner):
    bad_tag = analyst.get("/dashboard/api/variants", {"placement": "home-banner", "tag": "blue"})
    unknown = analyst.get("/dashboard/api/variants", {"placement": "nowhere"})

    assert bad_tag.status_code == 400
    assert "tag" in bad_tag.json()["errors"]
    assert unknown.status_code == 404


def test_daily_trend_adds_up_to_the_experiment_report(analyst, banner):
    experiment_start(slug="home-ab", placement=banner, buckets="control=0.5,random=0.5")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    serve_and_report(banner, users=30, prefix="early", ts=yesterday)
    serve_and_report(banner, users=30, prefix="late")

    days = analyst.get("/dashboard/api/experiments/home-ab/daily").json()["days"]
    report = analyst.get("/api/v1/experiments/home-ab/report").json()

    assert len({d["day"] for d in days}) == 2
    for bucket, row in report["buckets"].items():
        mine = [d for d in days if d["bucket"] == bucket]
        assert sum(d["impressions"] for d in mine) == row["impressions"]
        assert sum(d["clicks"] for d in mine) == row["clicks"]


def test_meta_lists_what_the_pickers_offer(analyst, banner):
    experiment_start(slug="home-ab", placement=banner, buckets="control=0.5,random=0.5")
    serve_and_report(banner, users=3, features={"age": 30, "income_band": "mid"})

    body = analyst.get("/dashboard/api/meta").json()

    assert [p["slug"] for p in body["placements"]] == ["home-banner"]
    assert body["experiments"][0]["slug"] == "home-ab"
    assert {"age", "income_band"} <= set(body["segment_features"])
    assert any(g["name"] == "button_color" for g in body["tag_groups"])


@pytest.fixture
def two_models(settings):
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    placement, variants = catalogue("wealth-card")
    log_random_traffic(placement, variants, users=300, seed=1)
    first = train_model(placement=placement, algo="logreg", activate=True, force=True).model_version
    second = train_model(placement=placement, algo="logreg", activate=True, force=True).model_version
    return placement, first, second


def test_the_registry_lists_versions_with_their_metrics(analyst, two_models):
    placement, first, second = two_models

    body = analyst.get("/dashboard/api/models", {"placement": placement.slug}).json()

    assert [v["version"] for v in body["versions"]] == [second, first]
    assert [v["is_active"] for v in body["versions"]] == [True, False]
    stored = ModelVersion.objects.get(version=second)
    assert body["versions"][0]["auc"] == pytest.approx(stored.auc)
    assert body["can_manage"] is False


def test_the_registry_gives_each_version_its_holdout_calibration_curve(analyst, two_models):
    placement, first, _ = two_models
    older = ModelVersion.objects.get(version=first)
    older.params = {k: v for k, v in older.params.items() if k != "calibration"}  # as versions trained before it
    older.save(update_fields=["params"])

    versions = analyst.get("/dashboard/api/models", {"placement": placement.slug}).json()["versions"]

    newest, oldest = versions
    stored = ModelVersion.objects.get(version=newest["version"])
    curve = newest["holdout_calibration"]
    assert curve == stored.params["calibration"]
    assert len(curve) >= 5
    _, _, holdout = split_indices(stored.rows)
    assert sum(p["count"] for p in curve) == holdout.stop - holdout.start, "every holdout row is in one bin"
    clicks = sum(p["observed"] * p["count"] for p in curve)
    assert clicks == pytest.approx(round(clicks)), "each bin's observed rate is its clicks over its rows"
    assert [p["predicted"] for p in curve] == sorted(p["predicted"] for p in curve)
    assert all(0 <= p["predicted"] <= 1 and 0 <= p["observed"] <= 1 for p in curve)
    assert oldest["holdout_calibration"] is None, "no curve stored: none given, rather than an empty plot"


def test_an_analyst_cannot_activate_or_roll_back(analyst, two_models):
    placement, first, _ = two_models

    assert analyst.post(f"/dashboard/api/models/{first}/activate").status_code == 403
    assert analyst.post("/dashboard/api/models/rollback", {"placement": placement.slug}).status_code == 403
    assert ModelVersion.objects.get(version=first).is_active is False


def test_an_operator_activates_through_the_gate_and_rolls_back_without_it(operator, two_models):
    placement, first, second = two_models

    # Activating goes through the activation gate: 300 users' clicks are too few for these models to beat
    # predicting the mean click rate, so the older version stays off, with the reason.
    refused = operator.post(f"/dashboard/api/models/{first}/activate")
    assert refused.status_code == 400 and "version" in refused.json()["errors"]
    assert ModelVersion.objects.get(is_active=True, placement=placement).version == second

    # Rolling back is the emergency path: the version that served before comes back without the gate.
    rolled = operator.post("/dashboard/api/models/rollback", {"placement": placement.slug}, format="json")
    assert rolled.status_code == 200
    assert rolled.json()["version"] == first
    assert ModelVersion.objects.get(is_active=True, placement=placement).version == first
    again = operator.post(f"/dashboard/api/models/{first}/activate")  # already serving: nothing to judge
    assert again.status_code == 200 and again.json() == {"version": first, "is_active": True}


def test_model_actions_answer_clearly_on_bad_input(operator, two_models):
    assert operator.post("/dashboard/api/models/999/activate").status_code == 404
    unknown = operator.post("/dashboard/api/models/rollback", {"placement": "nowhere"}, format="json")
    assert unknown.status_code == 400
    assert "placement" in unknown.json()["errors"]


def test_an_api_key_may_read_the_registry_but_never_change_it(api_client_with, two_models):
    placement, first, _ = two_models
    reader = api_client_with("analytics:read")

    assert reader.get("/dashboard/api/models", {"placement": placement.slug}).status_code == 200
    assert reader.post(f"/dashboard/api/models/{first}/activate").status_code == 403


def test_live_calibration_bins_cover_every_scored_impression(analyst, two_models):
    placement, _, second = two_models
    experiment_start(slug="card-model", placement=placement, buckets="model=1.0")
    served = serve_and_report(placement, users=60, click_every=5, prefix="cal")

    row = analyst.get("/dashboard/api/models", {"placement": placement.slug}).json()["versions"][0]

    assert row["version"] == second
    curve = row["live_calibration"]
    assert sum(p["count"] for p in curve) == sum(c["impressions"] for c in served.values())
    assert sum(p["observed"] * p["count"] for p in curve) == pytest.approx(sum(c["clicks"] for c in served.values()))
    assert [p["predicted"] for p in curve] == sorted(p["predicted"] for p in curve)
