"""Every report, attribution, explanation, off-policy and dashboard answer is what /api/schema/ says it is.

The schema is read from /api/schema/, as the dashboard's type generator reads it, and checked with every
object closed (tests/openapi_checks.py), so a field the code returns but the schema leaves out fails as
surely as a declared field the code omits or a value of the wrong type. Each answer comes from a real
request on real traffic.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ranking import services as ranking
from ranking.models import Decision
from tests.analytics.factories import log_simulated_random_bucket, log_traffic
from tests.factories import ExperimentFactory, PlacementFactory, StyleVariantFactory
from tests.frontend.factories import serve_and_report, staff_user
from tests.openapi_checks import resolve, served_schema, violations
from tests.ranking.factories import catalogue, log_random_traffic

# "__all__": ranking may log decisions on their own connection (an alias mirroring default).
pytestmark = pytest.mark.django_db(databases="__all__")

REPORT = "/api/v1/experiments/{slug}/report"
ATTRIBUTION = "/api/v1/placements/{slug}/attribution"
EXPLAIN = "/api/v1/placements/{slug}/explain"
OPE = "/api/v1/placements/{slug}/ope"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return served_schema()


def test_every_answer_in_the_schema_names_its_fields(openapi):
    untyped = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                schema = resolve(openapi, response.get("content", {}).get("application/json", {}).get("schema", {}))
                if not schema.get("properties"):
                    untyped.append(f"{method.upper()} {path} {status}")
    assert not untyped, f"answers the schema does not describe: {untyped}"


def test_the_checker_catches_an_undeclared_field_a_missing_one_and_a_wrong_type(openapi):
    good = {"version": "7", "is_active": True}
    path = "/dashboard/api/models/{version}/activate"

    assert violations(openapi, path, good, method="post") == []
    assert violations(openapi, path, {**good, "extra": 1}, method="post")
    assert violations(openapi, path, {"version": "7"}, method="post")
    assert violations(openapi, path, {**good, "is_active": "yes"}, method="post")


def test_the_experiment_report_answers_as_declared_with_and_without_segments(openapi, api_client_with):
    placement = PlacementFactory(slug="typed-banner")
    experiment = ExperimentFactory(slug="typed-ab", placement=placement, buckets={"control": 0.5, "model": 0.5})
    experiment.started_at = timezone.now() - timedelta(days=1)
    experiment.save(update_fields=["started_at"])
    log_traffic(placement=placement, users={"control": 60, "model": 60}, ctr={"control": 0.1, "model": 0.1},
                when=timezone.now() - timedelta(days=5), seed=1)  # a pre-period, so CUPED applies
    log_traffic(placement=placement, experiment=experiment, users={"control": 200, "model": 200},
                ctr={"control": 0.05, "model": 0.15}, seed=2)
    client = api_client_with("analytics:read")

    full = client.get("/api/v1/experiments/typed-ab/report").json()
    quick = client.get("/api/v1/experiments/typed-ab/report?segments=false").json()

    assert full["cuped"]["applied"] and "cuped" in full["buckets"]["model"] and full["segments"]
    assert violations(openapi, REPORT, full) == []
    assert violations(openapi, REPORT, quick) == []


@pytest.fixture
def explored_placement():
    """Random-bucket traffic on four variants whose clicks follow the simulator's planted preferences
    (under-30s like blue buttons), and a trained model that serves."""
    placement = PlacementFactory(slug="typed-explored", default_mode="model")
    variants = [StyleVariantFactory(placement=placement, variant_key=f"{color}-{layout}",
                                    tags={"button_color": [color], "layout": [layout]})
                for color in ("red", "blue") for layout in ("single", "grid")]
    log_simulated_random_bucket(placement=placement, variants=variants, users=3000, seed=5,
                                when=timezone.now() - timedelta(hours=2))
    trained = ranking.train_model(placement=placement, algo="lightgbm", activate=True)
    assert trained.activated, trained
    log_simulated_random_bucket(placement=placement, variants=variants, users=400, seed=6)
    return placement, trained.model_version


@pytest.mark.slow
def test_attribution_explanation_and_off_policy_answers_are_as_declared(
        openapi, api_client_with, explored_placement, django_capture_on_commit_callbacks):
    placement, version = explored_placement
    client = api_client_with("analytics:read")

    grid = client.get(f"/api/v1/placements/{placement.slug}/attribution",
                      {"segment": "age", "tag_group": "button_color", "min_support": 50}).json()
    weighted = client.get(f"/api/v1/placements/{placement.slug}/attribution",
                          {"segment": "income_band", "tag_group": "layout", "buckets": "random,model"}).json()
    with django_capture_on_commit_callbacks(execute=True):
        pending = client.get(f"/api/v1/placements/{placement.slug}/explain")  # then fits the EBM (eager here)
    ready = client.get(f"/api/v1/placements/{placement.slug}/explain")
    estimate = client.get(f"/api/v1/placements/{placement.slug}/ope", {"model_version": version}).json()

    assert grid["cells"] and grid["findings"], "the planted preference makes at least one finding"
    assert violations(openapi, ATTRIBUTION, grid) == []
    assert weighted["weighting"] == "inverse_propensity" and violations(openapi, ATTRIBUTION, weighted) == []
    assert pending.status_code == 202 and violations(openapi, EXPLAIN, pending.json(), status=202) == []
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["pairs"] and body["main_effects"] and body["contributions"]["by_segment"]
    assert violations(openapi, EXPLAIN, body) == []
    assert estimate["active_model"]["model_version"] == version
    assert violations(openapi, OPE, estimate) == []


def test_the_dashboard_answers_are_as_declared(openapi, settings):
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    placement, variants = catalogue("typed-home")
    StyleVariantFactory(placement=placement, variant_key="draft", status="draft", tags={})
    log_random_traffic(placement, variants, users=1500, seed=1)
    first = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True)
    second = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True)
    assert first.activated and second.activated
    ranking.experiment_start(slug="typed-home-ab", placement=placement, buckets="control=0.5,model=0.5")
    serve_and_report(placement, users=200, click_every=5, prefix="ab")
    assert Decision.objects.filter(model_version=second.model_version, bucket="model").exists()
    operator = APIClient()
    operator.force_login(staff_user("typed-operator", "operators"))

    answers = {
        "/dashboard/api/meta": operator.get("/dashboard/api/meta").json(),
        "/dashboard/api/experiments/{slug}/daily": operator.get(
            "/dashboard/api/experiments/typed-home-ab/daily").json(),
        "/dashboard/api/variants": operator.get("/dashboard/api/variants", {"placement": "typed-home"}).json(),
        "/dashboard/api/models": operator.get("/dashboard/api/models", {"placement": "typed-home"}).json(),
    }
    rolled_back = operator.post("/dashboard/api/models/rollback", {"placement": "typed-home"}, format="json")
    # The version the rollback brought back serves already: activating it again answers its state.
    activated = operator.post(f"/dashboard/api/models/{first.model_version}/activate")

    assert answers["/dashboard/api/experiments/{slug}/daily"]["days"], "the A/B traffic makes daily rows"
    versions = answers["/dashboard/api/models"]["versions"]
    assert any(v["live_calibration"] for v in versions) and all(v["holdout_calibration"] for v in versions)
    for path, body in answers.items():
        assert violations(openapi, path, body) == [], path
    assert rolled_back.status_code == activated.status_code == 200
    assert violations(openapi, "/dashboard/api/models/rollback", rolled_back.json(), method="post") == []
    assert violations(openapi, "/dashboard/api/models/{version}/activate", activated.json(), method="post") == []
