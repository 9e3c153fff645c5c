"""An analyst reads an experiment's report over the API or in the terminal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.analytics.factories import log_traffic
from tests.factories import ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """The textbook step-up adjustment: q(i) = min over j >= i of p(j) · m / j, p sorted ascending."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q, running = [0.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q


@pytest.fixture
def running_experiment():
    placement = PlacementFactory(slug="home-banner")
    experiment = ExperimentFactory(slug="home-ab", placement=placement, buckets={"control": 0.5, "model": 0.5})
    experiment.started_at = timezone.now() - timedelta(days=1)
    experiment.save(update_fields=["started_at"])
    return experiment


def test_the_report_shows_each_bucket_with_intervals_and_a_lift_against_control(api_client_with, running_experiment):
    placement = running_experiment.placement
    # Some users were seen before the experiment: their earlier CTR feeds CUPED.
    log_traffic(placement=placement, users={"control": 150, "model": 150}, ctr={"control": 0.1, "model": 0.1},
                when=timezone.now() - timedelta(days=5), seed=1)
    log_traffic(placement=placement, experiment=running_experiment, users={"control": 300, "model": 300},
                ctr={"control": 0.05, "model": 0.15}, seed=2)

    response = api_client_with("analytics:read").get("/api/v1/experiments/home-ab/report")

    assert response.status_code == 200
    report = response.json()
    control, model = report["buckets"]["control"], report["buckets"]["model"]
    assert control["users"] == model["users"] == 300
    assert control["impressions"] == 900
    assert control["ctr_ci"][0] < control["ctr"] < control["ctr_ci"][1]
    assert model["ctr"] > control["ctr"]
    assert model["lift_vs_control"]["absolute_ci"][0] > 0
    assert model["p_value"] < 0.001
    assert model["lift_vs_control"]["absolute_cs"][0] <= model["lift_vs_control"]["absolute_ci"][0]
    assert report["srm_flag"] is False and report["srm_p_value"] > 0.001
    assert report["cuped"]["applied"] is True and report["cuped"]["users_with_history"] > 0
    assert report["health"]["share_with_bucket_and_propensity"] == 1.0
    assert report["health"]["propensities_valid_share"] == 1.0
    assert report["health"]["users_in_more_than_one_bucket"] == 0
    # Every user's CTR triples in the model arm, so each gender shows the lift on its own.
    for gender in ("f", "m"):
        ctr_lift = next(s for s in report["segments"] if (s["feature"], s["value"], s["metric"]) == ("gender", gender, "ctr"))
        assert ctr_lift["bucket"] == "model" and ctr_lift["relative_lift"] > 0.5 and ctr_lift["significant"] is True
    assert {s["metric"] for s in report["segments"]} == {"ctr", "cvr"}
    p_values = [s["p_value"] for s in report["segments"]]
    assert [s["q_value"] for s in report["segments"]] == pytest.approx(benjamini_hochberg(p_values))


def test_a_skewed_split_raises_the_srm_flag(running_experiment):
    from analytics.experiments import experiment_report

    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"control": 400, "model": 250}, ctr={"control": 0.1, "model": 0.1}, impressions_per_user=1)

    report = experiment_report(experiment=running_experiment)

    assert report["srm_flag"] is True
    assert report["srm_p_value"] < 0.001


def test_reports_need_the_analytics_scope_or_a_staff_session(api_client_with, staff_client, running_experiment):
    assert api_client_with("events").get("/api/v1/experiments/home-ab/report").status_code == 403
    assert staff_client.get("/api/v1/experiments/home-ab/report").status_code == 200
    assert api_client_with("analytics:read").get("/api/v1/experiments/nope/report").status_code == 404


def test_the_command_prints_the_same_report(running_experiment, capsys):
    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"control": 50, "model": 50}, ctr={"control": 0.1, "model": 0.2})

    call_command("experiment_report", "home-ab", "--json")
    report = json.loads(capsys.readouterr().out)
    call_command("experiment_report", "home-ab")
    out = capsys.readouterr().out

    assert report["buckets"]["model"]["users"] == 50 and report["buckets"]["model"]["clicks"] > 0
    assert out.startswith("Experiment home-ab on home-banner (running), control = control")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:4]}
    for name in ("control", "model"):
        bucket = report["buckets"][name]
        users, impressions, clicks, ctr = rows[name][1:5]
        assert (users, impressions, clicks) == (f"{bucket['users']:,}", f"{bucket['impressions']:,}",
                                                f"{bucket['clicks']:,}")
        assert ctr == f"{100 * bucket['ctr']:.2f}%"
    assert f"{100 * report['buckets']['model']['lift_vs_control']['relative']:.1f}%" in rows["model"]
    assert f"SRM p = {report['srm_p_value']:.4g}" in out
