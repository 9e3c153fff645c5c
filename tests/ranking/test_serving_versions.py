"""A change made by a management command reaches a running server within about a second, without Redis.

The server and the command are separate processes: the command's writes reach the server only through
the database (on the embedded default Django's cache is per process). The in-process tests run the
command with this process's serving state set aside and put back afterwards, as another process would
leave it; the PostgreSQL test runs the command in a real subprocess.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ranking import registry, serving, serving_versions
from ranking.models import ModelVersion
from ranking.services import rank_variants

from .factories import catalogue

pytestmark = pytest.mark.django_db(transaction=True)  # each command commits, as it does for real
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_ttl_to_help(settings):
    """Only the serving versions can carry the change: the catalogue and model-table TTLs never expire here."""
    settings.KALEIDO_RANK_CATALOGUE_TTL = 3600
    settings.KALEIDO_MODEL_STAMP_TTL = 3600
    settings.KALEIDO_RANK_LOCAL_CHECK_S = 1.0


@contextlib.contextmanager
def in_another_process():
    """Run the block as another process would: this process's memory and its (per-process) cache are left
    as they were before it."""
    saved = (dict(serving._catalogues), list(serving_versions._memo), dict(registry._active_tables._local),
             cache.get(registry.ACTIVE_KEY))
    yield
    serving._catalogues.clear()
    serving._catalogues.update(saved[0])
    serving_versions._memo[:] = saved[1]
    registry._active_tables._local.clear()
    registry._active_tables._local.update(saved[2])
    cache.set(registry.ACTIVE_KEY, saved[3]) if saved[3] is not None else cache.delete(registry.ACTIVE_KEY)


@pytest.fixture
def later(monkeypatch):
    """Move this process's clock forward (monotonic time drives every per-process cache)."""
    offset = [0.0]
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


def test_an_experiment_started_and_stopped_by_command_reaches_the_server_within_a_second(later):
    placement, _ = catalogue()
    assert rank_variants(placement=placement, user_id="u-1").experiment is None  # the server has its catalogue

    with in_another_process():
        call_command("start_experiment", "home-ab", "--placement", placement.slug,
                     "--buckets", "control=0.5,random=0.5")
    later(1.1)
    assert rank_variants(placement=placement, user_id="u-1").experiment == "home-ab"

    with in_another_process():
        call_command("stop_experiment", "home-ab")
    later(1.1)
    assert rank_variants(placement=placement, user_id="u-1").experiment is None


def test_a_model_activated_elsewhere_serves_within_a_second(later, tmp_path):
    placement, _ = catalogue()
    for version in ("701", "702"):
        ModelVersion.objects.create(version=version, placement=placement, artefact=str(tmp_path / "m.txt"))
    registry.activate(version="701")
    assert registry.active_version_for(placement.id) == "701"  # the server's table, cached

    with in_another_process():
        registry.activate(version="702")  # what activate_model and train_ranker --activate call
    assert registry.active_version_for(placement.id) == "701"  # still this process's copy...
    later(1.1)
    assert registry.active_version_for(placement.id) == "702"  # ...for at most a second


def test_without_a_change_the_server_reads_the_versions_once_a_second_and_nothing_else(later):
    placement, _ = catalogue()
    rank_variants(placement=placement, user_id="u-1")

    def tables_read(user_id: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            rank_variants(placement=placement, user_id=user_id)
        return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]

    assert tables_read("u-2") == []  # served from memory
    later(1.1)
    reads = tables_read("u-3")
    assert len(reads) == 1 and "ranking_servingversion" in reads[0]  # the catalogue itself is still good
    assert tables_read("u-4") == []


@pytest.mark.postgres
def test_a_command_in_a_real_second_process_reaches_this_one(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the command's process needs the test database over the network")
    settings.KALEIDO_DECISION_LOG = "direct"
    placement, _ = catalogue()
    assert rank_variants(placement=placement, user_id="u-1").experiment is None
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "REDIS_URL": "", "CELERY_BROKER_URL": ""}
    subprocess.run([sys.executable, "manage.py", "start_experiment", "real-ab", "--placement", placement.slug,
                    "--buckets", "control=0.5,random=0.5"], cwd=ROOT, env=env, check=True, timeout=120,
                   capture_output=True)
    deadline = time.monotonic() + 5  # about a second is the promise; leave room for a slow machine
    seen = None
    while time.monotonic() < deadline and seen != "real-ab":
        seen = rank_variants(placement=placement, user_id="u-1").experiment
        time.sleep(0.05)
    assert seen == "real-ab"
