"""An orchestrator asks each web process whether it is alive and whether to send it traffic."""

from __future__ import annotations

import time

import pytest

from kaleido import health
from ranking.models import ModelVersion
from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = client.get("/healthz")

    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_a_migrated_process_with_its_database_and_cache_is_ready(client):
    answer = client.get("/readyz")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok", "migrations": "ok", "cache": "ok", "models": "ok", "decision_journal": "ok"}


def test_a_journal_folder_that_cannot_be_written_makes_the_process_not_ready(client, settings, tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    settings.KALEIDO_DECISION_LOG = "journal"
    settings.KALEIDO_DECISION_JOURNAL_DIR = not_a_folder

    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["decision_journal"]["status"] == "failed"
    settings.KALEIDO_DECISION_JOURNAL_DIR = tmp_path / "journal"
    assert client.get("/readyz").status_code == 200


def test_an_active_model_whose_artefact_cannot_load_is_degraded_not_down(client, tmp_path):
    placement, _ = catalogue()
    ModelVersion.objects.create(version="991", placement=placement, is_active=True,
                                artefact=str(tmp_path / "missing.txt"))

    for _ in range(200):  # the first probe starts the load; the process is not ready while it runs
        answer = client.get("/readyz")
        if answer.json()["checks"]["models"].get("loading") is None:
            break
        time.sleep(0.02)

    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "degraded"
    assert list(body["checks"]["models"]["unavailable"]) == ["991"]


def test_an_unapplied_migration_makes_the_process_not_ready(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [
        (type("M", (), {"app_label": "ranking", "name": "0099_future"})(), False)])

    check = health.readiness_checks()["migrations"]

    assert check["status"] == "failed" and check["pending"] == ["ranking.0099_future"]


def test_the_demo_tells_the_operator_where_health_and_metrics_are():
    from io import StringIO

    from creative.demo import print_access
    from creative.demo_context import DemoContext

    out = StringIO()
    print_access(DemoContext(stdout=out, base_url="http://127.0.0.1:8000", users=500))

    text = out.getvalue()
    assert "http://127.0.0.1:8000/healthz" in text and "http://127.0.0.1:8000/readyz" in text
    assert "http://127.0.0.1:8000/metrics" in text
