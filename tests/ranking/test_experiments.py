"""An operator starts and stops experiments from the command line and the admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ranking.models import Experiment

from .factories import catalogue

pytestmark = pytest.mark.django_db


def test_start_and_stop_an_experiment_from_the_command_line(rank):
    placement, _ = catalogue()

    call_command("start_experiment", "home-ab", "--placement", placement.slug,
                 "--buckets", "control=0.2,random=0.2,model=0.6", stdout=StringIO())

    experiment = Experiment.objects.get(slug="home-ab")
    assert experiment.status == "running" and experiment.buckets == {"control": 0.2, "random": 0.2, "model": 0.6}
    assert rank(placement.slug, user_id="u1")["experiment"] == "home-ab"

    call_command("stop_experiment", "home-ab", stdout=StringIO())

    experiment.refresh_from_db()
    assert experiment.status == "stopped" and experiment.stopped_at is not None
    body = rank(placement.slug, user_id="u1")
    assert body["experiment"] is None and body["bucket"] == "control"


def test_a_placement_runs_one_experiment_at_a_time():
    placement, _ = catalogue()
    call_command("start_experiment", "first", "--placement", placement.slug, stdout=StringIO())

    with pytest.raises(CommandError, match="already runs"):
        call_command("start_experiment", "second", "--placement", placement.slug, stdout=StringIO())
    with pytest.raises(CommandError, match="sum to 1"):
        call_command("start_experiment", "third", "--placement", placement.slug, "--buckets", "control=0.3",
                     stdout=StringIO())

    call_command("stop_experiment", "first", stdout=StringIO())
    call_command("start_experiment", "second", "--placement", placement.slug, stdout=StringIO())
    assert Experiment.objects.get(slug="second").status == "running"


def test_operators_start_and_stop_experiments_in_the_admin(staff_client):
    placement, _ = catalogue()

    form = {"slug": "admin-ab", "placement": placement.id, "buckets_text": "control=0.5,model=0.5"}

    unconfirmed = staff_client.post("/admin/ranking/experiment/add/", form)  # no model is trained yet
    assert unconfirmed.status_code == 200 and "Start anyway" in unconfirmed.content.decode()
    assert not Experiment.objects.filter(slug="admin-ab").exists()
    response = staff_client.post("/admin/ranking/experiment/add/", {**form, "start_anyway": "on"})

    assert response.status_code == 302, response.content[:2000]
    experiment = Experiment.objects.get(slug="admin-ab")
    assert experiment.buckets == {"control": 0.5, "model": 0.5} and experiment.salt
    staff_client.post("/admin/ranking/experiment/", {"action": "stop", "_selected_action": [experiment.id]})
    experiment.refresh_from_db()
    assert experiment.status == "stopped"


def test_the_admin_page_of_an_experiment_without_control_says_why_it_has_no_report():
    from django.contrib import admin

    from ranking import services

    placement, _ = catalogue()
    experiment = services.experiment_start(slug="no-control", placement=placement, buckets="random=0.5,model=0.5")

    shown = admin.site._registry[Experiment].results(experiment)

    assert "control" in shown and "could not be computed" not in shown
