"""An operator releases a model gradually from the dashboard; an analyst watches where the ramp stands."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ranking.models import ModelRollout
from ranking.services import train_model
from tests.ranking.factories import catalogue, log_random_traffic

from .factories import staff_user

pytestmark = pytest.mark.django_db


def client_for(username: str, role: str) -> APIClient:
    client = APIClient()
    client.force_login(staff_user(username, role))
    return client


@pytest.fixture
def candidate(settings):
    settings.KALEIDO_TRAIN_MIN_ROWS = 100
    placement, variants = catalogue("ramp-card")
    log_random_traffic(placement, variants, users=400, seed=3)
    return placement, train_model(placement=placement, algo="logreg").model_version


def test_an_operator_ramps_a_model_the_gate_refused_only_by_forcing_it_and_can_cancel(candidate):
    placement, version = candidate
    operator = client_for("opal", "operators")

    refused = operator.post(f"/dashboard/api/models/{version}/rollout", {}, format="json")
    assert refused.status_code == 400 and "version" in refused.json()["errors"]  # 400 clicks are too few
    assert not ModelRollout.objects.exists()

    started = operator.post(f"/dashboard/api/models/{version}/rollout",
                            {"steps": [0.1, 0.3], "min_dwell_s": 600, "force": True}, format="json")
    assert started.status_code == 201, started.content
    ramp = started.json()
    assert (ramp["candidate"], ramp["status"], ramp["share"], ramp["steps"]) == (version, "ramping", 0.1, [0.1, 0.3])
    assert ramp["started_by"] == "opal" and ramp["history"][0]["forced"] is True

    listed = operator.get("/dashboard/api/rollouts", {"placement": placement.slug}).json()
    assert listed["can_manage"] is True and [r["id"] for r in listed["rollouts"]] == [ramp["id"]]

    cancelled = operator.post(f"/dashboard/api/rollouts/{ramp['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = operator.post(f"/dashboard/api/rollouts/{ramp['id']}/cancel")
    assert again.status_code == 400 and "rollout" in again.json()["errors"]


def test_bad_ramps_are_refused_field_by_field(candidate):
    _, version = candidate
    operator = client_for("opal", "operators")

    backwards = operator.post(f"/dashboard/api/models/{version}/rollout", {"steps": [0.5, 0.2], "force": True},
                              format="json")
    assert backwards.status_code == 400 and "steps" in backwards.json()["errors"]
    too_big = operator.post(f"/dashboard/api/models/{version}/rollout", {"steps": [2], "min_impressions": 0},
                            format="json")
    assert too_big.status_code == 400 and {"steps", "min_impressions"} <= set(too_big.json()["errors"])
    assert operator.post("/dashboard/api/models/nope/rollout", {}, format="json").status_code == 404
    assert operator.post("/dashboard/api/rollouts/999/cancel").status_code == 404
    assert not ModelRollout.objects.exists()


def test_an_analyst_sees_the_ramps_but_cannot_start_or_cancel_one(candidate):
    placement, version = candidate
    client_for("opal", "operators").post(f"/dashboard/api/models/{version}/rollout", {"force": True}, format="json")
    analyst = client_for("ana", "analysts")

    listed = analyst.get("/dashboard/api/rollouts", {"placement": placement.slug}).json()
    assert listed["can_manage"] is False and listed["rollouts"][0]["share"] == 0.05
    assert analyst.post(f"/dashboard/api/models/{version}/rollout", {"force": True}, format="json").status_code == 403
    assert analyst.post(f"/dashboard/api/rollouts/{listed['rollouts'][0]['id']}/cancel").status_code == 403
    assert ModelRollout.objects.get().status == "ramping"
    assert analyst.get("/dashboard/api/rollouts", {"placement": "nowhere"}).status_code == 404
