"""An analyst reads an experiment's report over the API or in the terminal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ranking.services import experiment_info
from tests.analytics.factories import log_traffic
from tests.factories import ExperimentFactory, PlacementFactory, StyleVariantFactory

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
    # Sequential by default: the headline p is the always-valid one, the fixed-horizon one beside it.
    lift = model["lift_vs_control"]
    assert report["sequential"] is True and report["headline"] == "always_valid"
    assert model["p_value"] == lift["p_value"] == lift["p_value_always_valid"] < 0.01
    assert lift["p_value_fixed_horizon"] < 0.001 and lift["p_value_fixed_horizon"] < lift["p_value_always_valid"]
    assert model["p_value_adjusted"] == pytest.approx(model["p_value"])  # Holm over one treatment arm
    assert lift["absolute_cs"][0] <= lift["absolute_ci"][0] and lift["absolute_cs"][1] >= lift["absolute_ci"][1]
    assert lift["relative_cs"][0] <= lift["relative"] <= lift["relative_cs"][1]
    # CVR is reported with the same statistics as CTR.
    for bucket in (control, model):
        assert bucket["conversions"] > 0
        assert bucket["cvr"] == pytest.approx(bucket["conversions"] / bucket["clicks"])
        assert bucket["cvr_cs"][0] <= bucket["cvr_ci"][0] < bucket["cvr"] < bucket["cvr_ci"][1] <= bucket["cvr_cs"][1]
    cvr_lift = model["cvr_lift_vs_control"]
    assert set(cvr_lift) == set(lift)
    assert 0 <= cvr_lift["p_value_fixed_horizon"] <= cvr_lift["p_value_always_valid"] <= 1
    assert report["srm_flag"] is False and report["srm_p_value"] > 0.001
    assert report["cuped"]["applied"] is True and report["cuped"]["users_with_history"] > 0
    assert report["health"]["share_with_bucket_and_propensity"] == 1.0
    assert report["health"]["propensities_valid_share"] == 1.0
    assert report["health"]["users_in_more_than_one_bucket"] == 0
    # Every user's CTR triples in the model arm, so each gender shows the lift on its own.
    for gender in ("f", "m"):
        ctr_lift = next(s for s in report["segments"] if (s["feature"], s["value"], s["metric"]) == ("gender", gender, "ctr"))
        assert ctr_lift["bucket"] == "model" and ctr_lift["relative_lift"] > 0.5
        assert ctr_lift["p_value_fixed_horizon"] < 0.01
        assert ctr_lift["p_value"] > ctr_lift["p_value_fixed_horizon"], "the headline is the always-valid p"
    assert {s["metric"] for s in report["segments"]} == {"ctr", "cvr"}
    p_values = [s["p_value"] for s in report["segments"]]
    assert [s["q_value"] for s in report["segments"]] == pytest.approx(benjamini_hochberg(p_values))


def test_a_skewed_split_raises_the_srm_flag(running_experiment):
    from analytics.experiments import experiment_report

    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"control": 400, "model": 250}, ctr={"control": 0.1, "model": 0.1}, impressions_per_user=1)

    report = experiment_report(experiment=experiment_info(running_experiment))

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
    assert "Intervals and p are always-valid (sequential testing on)" in out
    cvr_rows = {line.split()[0]: line.split() for line in out.splitlines()[5:7]}  # the CVR table
    for name in ("control", "model"):
        bucket = report["buckets"][name]
        assert cvr_rows[name][2:5] == [f"{bucket['clicks']:,}", f"{bucket['conversions']:,}",
                                       f"{100 * bucket['cvr']:.2f}%"]

    call_command("experiment_report", "home-ab", "--json", "--fixed-horizon")
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["headline"] == "fixed_horizon"
    assert fixed["buckets"]["model"]["p_value"] == fixed["buckets"]["model"]["lift_vs_control"]["p_value_fixed_horizon"]


def test_fixed_horizon_can_be_asked_for_and_the_report_says_which_it_leads_with(api_client_with, running_experiment):
    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"control": 120, "model": 120}, ctr={"control": 0.08, "model": 0.12}, seed=4)
    client = api_client_with("analytics:read")

    sequential = client.get("/api/v1/experiments/home-ab/report?segments=false").json()
    fixed = client.get("/api/v1/experiments/home-ab/report?segments=false&sequential=false").json()

    assert fixed["sequential"] is False and fixed["headline"] == "fixed_horizon"
    for metric in ("lift_vs_control", "cvr_lift_vs_control"):
        seq_lift, fixed_lift = sequential["buckets"]["model"][metric], fixed["buckets"]["model"][metric]
        assert fixed_lift["p_value"] == fixed_lift["p_value_fixed_horizon"]
        assert seq_lift["p_value"] == seq_lift["p_value_always_valid"]
        assert seq_lift["p_value_fixed_horizon"] == pytest.approx(fixed_lift["p_value_fixed_horizon"])
    assert "fixed-horizon" in fixed["notes"] and "always-valid" in sequential["notes"]


def test_holm_adjusts_the_lift_p_values_across_treatment_arms(running_experiment):
    from analytics.experiments import experiment_report

    running_experiment.buckets = {"control": 0.34, "model": 0.33, "random": 0.33}
    running_experiment.save(update_fields=["buckets"])
    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"control": 200, "model": 200, "random": 200},
                ctr={"control": 0.08, "model": 0.13, "random": 0.09}, seed=6)

    report = experiment_report(experiment=experiment_info(running_experiment), segments=False)

    arms = [report["buckets"]["model"], report["buckets"]["random"]]
    raw = sorted((b["p_value"], i) for i, b in enumerate(arms))
    (p_low, low), (p_high, high) = raw
    assert arms[low]["p_value_adjusted"] == pytest.approx(min(1.0, 2 * p_low))
    assert arms[high]["p_value_adjusted"] == pytest.approx(max(min(1.0, 2 * p_low), p_high))
    assert report["arms_adjustment"] == "holm"


def test_an_experiment_without_a_control_bucket_is_refused_not_compared_with_another_bucket(
        api_client_with, running_experiment):
    running_experiment.buckets = {"model": 0.5, "random": 0.5}
    running_experiment.save(update_fields=["buckets"])
    log_traffic(placement=running_experiment.placement, experiment=running_experiment,
                users={"model": 40, "random": 40}, ctr={"model": 0.1, "random": 0.1})

    response = api_client_with("analytics:read").get("/api/v1/experiments/home-ab/report")

    assert response.status_code == 400
    message = response.json()["errors"]["buckets"][0]
    assert "control" in message and "model, random" in message
    with pytest.raises(CommandError, match="no 'control' bucket"):
        call_command("experiment_report", "home-ab")


def test_a_user_whose_features_drift_stays_in_the_segment_of_their_first_exposure(running_experiment):
    from analytics.experiments import experiment_report

    running_experiment.started_at = timezone.now() - timedelta(days=4)
    running_experiment.save(update_fields=["started_at"])
    placement, users = running_experiment.placement, {"control": 60, "model": 60}
    # The same users come back two days later one age band older and with another plan.
    log_traffic(placement=placement, experiment=running_experiment, users=users, ctr={"control": 0.2, "model": 0.2},
                when=timezone.now() - timedelta(days=3), features=lambda u: {"age": 22, "plan": "free"}, seed=1)
    log_traffic(placement=placement, experiment=running_experiment, users=users, ctr={"control": 0.2, "model": 0.2},
                features=lambda u: {"age": 30, "plan": "pro"}, seed=2)

    report = experiment_report(experiment=experiment_info(running_experiment))

    assert report["buckets"]["control"]["users"] == 60 and report["buckets"]["control"]["impressions"] == 360
    ctr_rows = [s for s in report["segments"] if s["metric"] == "ctr"]
    assert {(s["feature"], s["value"]) for s in ctr_rows} == {("age", "18–24"), ("plan", "free")}
    assert all(s["users"] == 120 for s in ctr_rows), "each user is one unit, with all of their impressions"


def test_the_random_bucket_uniformity_check_counts_only_variants_eligible_throughout(running_experiment):
    from analytics.experiments import experiment_report

    placement = running_experiment.placement
    running_experiment.buckets = {"control": 0.5, "random": 0.5}
    running_experiment.save(update_fields=["buckets"])
    drawn = [StyleVariantFactory(placement=placement) for _ in range(3)]
    pinned = StyleVariantFactory(placement=placement, pinned=True)
    late = StyleVariantFactory(placement=placement, published_at=timezone.now())
    # The draw is uniform over the three eligible variants; the pinned one sits in every slate, and the
    # late one only had the last hours.
    log_traffic(placement=placement, experiment=running_experiment, users={"control": 30, "random": 300},
                ctr={"control": 0.1, "random": 0.1}, variant_ids=[v.id for v in drawn], seed=3)
    log_traffic(placement=placement, experiment=running_experiment, users={"random": 300},
                ctr={"random": 0.1}, variant_ids=[pinned.id], user_prefix="p", seed=4)
    log_traffic(placement=placement, experiment=running_experiment, users={"random": 10},
                ctr={"random": 0.1}, variant_ids=[late.id], user_prefix="l", seed=5)

    health = experiment_report(experiment=experiment_info(running_experiment), segments=False)["health"]

    assert health["random_bucket_variants"] == 3
    assert health["random_bucket_variants_not_eligible"] == 2
    assert health["random_bucket_uniform_p_value"] > 0.5
