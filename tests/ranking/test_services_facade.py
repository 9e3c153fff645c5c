"""Other apps read ranking through its facade: frozen dataclasses, one lookup error, and creative's
"train a model now" behind an interface creative owns."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ranking import services
from ranking.models import ModelVersion
from tests.factories import ExperimentFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def test_an_experiment_reads_as_a_frozen_dataclass_without_its_salt():
    placement = PlacementFactory(slug="home-banner")
    ExperimentFactory(slug="home-ab", placement=placement, buckets={"control": 0.2, "model": 0.8})

    info = services.experiment_by_slug("home-ab")

    assert (info.slug, info.placement, info.placement_id, info.buckets, info.status) == (
        "home-ab", "home-banner", placement.id, {"control": 0.2, "model": 0.8}, "running")
    assert info.stopped_at is None and not hasattr(info, "salt")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.status = "stopped"  # type: ignore[misc]
    services.experiment_stop(slug="home-ab")
    stopped = services.experiment_by_slug("home-ab")
    assert stopped.status == "stopped" and stopped.stopped_at is not None
    assert info.status == "running"  # what was read before does not change under the reader


def test_experiments_are_listed_newest_first():
    first = ExperimentFactory(slug="older", placement=PlacementFactory(slug="side"))
    ExperimentFactory(slug="newer", placement=PlacementFactory(slug="top"))
    first.started_at = timezone.now() - timedelta(days=3)
    first.save(update_fields=["started_at"])

    assert [e.slug for e in services.experiments()] == ["newer", "older"]


def test_an_unknown_name_raises_the_one_lookup_error_everywhere(api_client_with):
    with pytest.raises(services.UnknownRecord, match="No experiment named 'nope'."):
        services.experiment_by_slug("nope")
    assert services.experiment_by_slug_or_none("nope") is None
    with pytest.raises(services.UnknownRecord, match="No model version 'v0'."):
        services.model_version_info("v0")
    with pytest.raises(services.UnknownRecord, match="No model version 'v0'."):
        services.activate_version(version="v0")
    with pytest.raises(services.UnknownRecord, match="No model version 'v0'."):
        services.start_model_rollout(version="v0")
    with pytest.raises(services.UnknownRecord, match="No rollout 404."):
        services.cancel_model_rollout(rollout_id=404)
    with pytest.raises(services.UnknownRecord, match="No earlier activated version"):
        services.roll_back(placement=PlacementFactory(slug="never-served"))

    # An API answers it with a 404 that says what is missing, a command with a CommandError.
    answer = api_client_with("analytics:read").get("/api/v1/experiments/nope/report")
    assert answer.status_code == 404 and answer.json()["detail"] == "No experiment named 'nope'."
    with pytest.raises(CommandError, match="No experiment named 'nope'."):
        call_command("experiment_report", "nope")


def test_a_model_version_reads_with_its_window_and_its_stint_serving():
    placement = PlacementFactory(slug="home-banner")
    start = timezone.now() - timedelta(days=10)
    first = ModelVersion.objects.create(version="m1", placement=placement, artefact="m1.txt", rows=900, auc=0.61,
                                        data_from=start, data_to=start + timedelta(days=5),
                                        params={"calibration": [{"predicted": 0.1, "observed": 0.12, "count": 9}]})
    ModelVersion.objects.filter(pk=first.pk).update(activated_at=start + timedelta(days=6))
    ModelVersion.objects.create(version="m2", placement=placement, artefact="m2.txt", is_active=True,
                                activated_at=start + timedelta(days=8))
    ModelVersion.objects.create(version="g1", placement=None, scope="general", artefact="g1.txt")

    info = services.model_version_info("m1")

    assert (info.placement, info.scope, info.rows, info.auc, info.is_active) == ("home-banner", "dedicated", 900,
                                                                                 0.61, False)
    assert info.data_to == start + timedelta(days=5)
    assert info.holdout_calibration == [{"predicted": 0.1, "observed": 0.12, "count": 9}]
    # It served from its activation until the next version of its placement took over; m2 still serves.
    assert services.serving_window(info) == (start + timedelta(days=6), start + timedelta(days=8))
    assert services.serving_window(services.model_version_info("m2")) == (start + timedelta(days=8), None)
    assert services.serving_window(services.model_version_info("g1")) is None  # never served
    # A placement's list holds its dedicated versions and the general ones, newest first.
    assert [m.version for m in services.model_versions(placement=placement)] == ["g1", "m2", "m1"]
    assert services.model_version_info("g1").placement is None


def test_creatives_train_button_reaches_ranking_through_the_interface_creative_owns():
    from creative import model_training

    placement = PlacementFactory(slug="quiet")  # no logged traffic: nothing to train on yet

    run = model_training.train_now(placement.pk)

    # Tests run tasks at once (no broker), so the run answers here: not enough data, no model trained.
    assert run.ran is True and run.summary is None
    assert not ModelVersion.objects.exists()
