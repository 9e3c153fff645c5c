"""An operator runs rank with KALEIDO_DECISION_LOG=journal: calls answer without a database round trip,
and every answered call's decision still reaches the table, even when the web process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from ranking import decision_log
from ranking.models import Decision
from tests.factories import PlacementFactory

from .factories import catalogue

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]




def record(placement_id: int, **overrides) -> dict:
    return {"decision_id": uuid.uuid4().hex, "placement_id": placement_id, "user_id": "u-1",
            "features": {"age": 30}, "context": {"device": "ios"}, "bucket": "model", "experiment_id": None,
            "model_version": "7", "created_at": timezone.now().isoformat(), "assigned_bucket": "model",
            "fallback_reason": "", "candidates": 12,
            "items": [{"variant_id": 1, "rank": 1, "score": 0.04, "propensity": 0.9}], **overrides}


def test_a_journaled_call_answers_first_and_its_decision_lands_whole_on_the_next_flush(rank, journal_mode):
    placement, _ = catalogue()

    body = rank(placement.slug, user_id="u-9", features={"age": 41, "city": "上海"}, k=3, context={"device": "web"})

    assert not Decision.objects.filter(decision_id=body["decision_id"]).exists()  # in the journal only
    assert len(list(journal_mode.glob("*.jsonl"))) == 1
    assert decision_log.flush_journal() == 1
    stored = Decision.objects.get(decision_id=body["decision_id"])
    assert (stored.placement_id, stored.user_id, stored.bucket, stored.assigned_bucket) == (
        placement.id, "u-9", "control", "control")
    assert stored.features == {"age": 41, "city": "上海"} and stored.context == {"device": "web"}
    assert [(it["variant_id"], it["rank"], it["propensity"]) for it in stored.items] == [
        (it["variant_id"], it["rank"], it["propensity"]) for it in body["items"]]
    assert decision_log.flush_journal() == 0  # nothing is sent twice


def test_the_flusher_thread_stores_decisions_without_being_asked(rank, journal_mode, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the flusher thread needs its own database connection")
    settings.KALEIDO_DECISION_FLUSH_S = 0.05
    placement, _ = catalogue()

    ids = {rank(placement.slug, user_id=f"u-{i}")["decision_id"] for i in range(5)}

    deadline = time.monotonic() + 20
    while Decision.objects.filter(decision_id__in=ids).count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Decision.objects.filter(decision_id__in=ids).count() == 5


def test_a_killed_web_process_loses_no_decision(journal_mode, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the killed process needs the test database over the network")
    placement, _ = catalogue()
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kaleido.settings",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "REDIS_URL": "", "KALEIDO_DECISION_LOG": "journal", "KALEIDO_DECISION_JOURNAL_DIR": str(journal_mode),
           "KALEIDO_DECISION_FLUSH_S": "3600"}
    script = (
        "import django, os, signal; django.setup()\n"
        "from ranking import services\n"
        f"ids = [services.rank_variants(placement='{placement.slug}', user_id=f'k-{{i}}').decision_id "
        "for i in range(20)]\n"
        "print(' '.join(ids), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )

    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)

    assert run.returncode == -signal.SIGKILL, run.stderr
    ids = run.stdout.split()
    assert len(ids) == 20 and not Decision.objects.filter(decision_id__in=ids).exists()
    assert decision_log.recover_orphans() == 20
    assert Decision.objects.filter(decision_id__in=ids).count() == 20
    assert list(journal_mode.glob("*.jsonl")) == []
    assert decision_log.recover_orphans() == 0


def test_recovery_skips_a_line_cut_short_and_stores_a_repeated_decision_once(journal_mode):
    placement = PlacementFactory(slug="recover-banner")
    first, second = record(placement.id), record(placement.id, user_id="u-2")
    journal_mode.mkdir(parents=True)
    lines = [json.dumps(first), json.dumps(second), json.dumps(first), json.dumps(record(placement.id))[:40]]
    (journal_mode / "web-1-1-dead.jsonl").write_text("\n".join(lines))

    decision_log.recover_orphans()

    assert set(Decision.objects.values_list("user_id", flat=True)) == {"u-1", "u-2"}
    assert Decision.objects.count() == 2
    assert not (journal_mode / "web-1-1-dead.jsonl").exists()


def test_a_deleted_experiment_empties_the_field_and_a_deleted_placement_drops_only_its_own_decisions(journal_mode):
    placement = PlacementFactory(slug="kept-banner")
    kept = record(placement.id, experiment_id=987654)
    gone = record(placement.id + 1000)

    decision_log._insert_lines([json.dumps(kept).encode(), json.dumps(gone).encode()], journal_mode / "a.jsonl")

    stored = Decision.objects.get()
    assert stored.decision_id.hex == kept["decision_id"] and stored.experiment_id is None


def test_a_segment_whose_process_lives_is_left_to_it(journal_mode):
    placement = PlacementFactory(slug="live-banner")
    journal = decision_log.journal()
    journal.append(record(placement.id))

    assert decision_log.recover_orphans() == 0
    assert len(list(journal_mode.glob("*.jsonl"))) == 1
    assert decision_log.flush_journal() == 1 and Decision.objects.count() == 1


def test_an_unwritable_journal_falls_back_to_writing_the_decision_directly(rank, journal_mode, settings):
    not_a_folder = journal_mode.parent / "a-file"
    not_a_folder.write_text("")
    settings.KALEIDO_DECISION_JOURNAL_DIR = not_a_folder
    placement, _ = catalogue()

    body = rank(placement.slug)

    assert Decision.objects.filter(decision_id=body["decision_id"]).exists()


def test_a_full_segment_is_rotated_and_every_segment_is_flushed_then_removed(journal_mode):
    placement = PlacementFactory(slug="rotate-banner")
    journal = decision_log.journal()
    journal.segment_bytes = 600  # a couple of records per segment

    for i in range(7):
        journal.append(record(placement.id, user_id=f"r-{i}"))

    assert len(list(journal_mode.glob("*.jsonl"))) > 2
    assert decision_log.flush_journal() == 7
    assert Decision.objects.count() == 7
    assert len(list(journal_mode.glob("*.jsonl"))) <= 1  # only the segment still being written


def test_flush_decisions_stores_what_a_dead_process_left_and_reports_it(journal_mode):
    from io import StringIO

    from django.core.management import call_command

    placement = PlacementFactory(slug="command-banner")
    journal_mode.mkdir(parents=True)
    (journal_mode / "web-9-1-gone.jsonl").write_text(json.dumps(record(placement.id)) + "\n")
    out = StringIO()

    call_command("flush_decisions", stdout=out)

    assert out.getvalue().startswith("1 decisions stored") and Decision.objects.count() == 1


def test_an_in_process_simulation_stores_each_decision_before_its_events(journal_mode):
    from analytics.models import Event
    from ranking import simulator

    placement, _ = catalogue(default_mode="random")
    users = simulator.make_users(60, seed=2)

    report = simulator.simulate(transport=simulator.in_process_transport(), placement=placement.slug, users=users)

    assert report.buckets["random"].users == 60
    assert Decision.objects.filter(placement=placement).count() == 60
    assert Event.objects.filter(placement=placement).exists()
    assert not Event.objects.filter(placement=placement, bucket="").exists()  # every event found its decision


def poisoned(placement_id: int) -> dict:
    """A record edge validation would have refused (an older release's line, a hand-edited file): NUL in a
    feature value, which PostgreSQL's jsonb cannot store."""
    return record(placement_id, user_id="poison", features={"city": "a\u0000b"})


def quarantined(journal_dir: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((journal_dir / "quarantine").glob("*.jsonl"))
            for line in path.read_text().splitlines()]


def test_one_line_the_database_refuses_is_quarantined_and_the_rest_of_the_batch_is_stored(journal_mode):
    placement = PlacementFactory(slug="poison-banner")
    journal = decision_log.journal()
    for i in range(10):
        journal.append(record(placement.id, user_id=f"before-{i}"))
    journal.append(poisoned(placement.id))
    journal.append({"not": "a decision"})
    for i in range(10):
        journal.append(record(placement.id, user_id=f"after-{i}"))

    decision_log.flush_journal()

    stored = set(Decision.objects.values_list("user_id", flat=True)) - {"poison"}  # SQLite stores NUL
    assert stored == {f"before-{i}" for i in range(10)} | {f"after-{i}" for i in range(10)}
    kept = quarantined(journal_mode)
    assert all(k["reason"] for k in kept)
    if connection.vendor == "postgresql":  # SQLite stores the NUL; PostgreSQL refuses it
        assert [json.loads(k["line"]).get("user_id") for k in kept] == ["poison"]
    assert decision_log.flush_journal() == 0  # nothing is retried, nothing waits behind it


def test_the_flusher_keeps_storing_after_a_poisoned_line(journal_mode, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the flusher thread needs its own database connection")
    settings.KALEIDO_DECISION_FLUSH_S = 0.05
    placement = PlacementFactory(slug="poison-thread-banner")
    journal = decision_log.journal()
    journal.append(poisoned(placement.id))
    ids = set()
    for i in range(20):
        good = record(placement.id, user_id=f"next-{i}")
        ids.add(good["decision_id"])
        journal.append(good)

    deadline = time.monotonic() + 20
    while Decision.objects.filter(decision_id__in=ids).count() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert Decision.objects.filter(decision_id__in=ids).count() == 20
    assert [json.loads(k["line"])["user_id"] for k in quarantined(journal_mode)] == ["poison"]


def test_recovery_and_flush_decisions_quarantine_a_poisoned_line_and_store_the_others(journal_mode):
    from io import StringIO

    from django.core.management import call_command

    placement = PlacementFactory(slug="poison-recover-banner")
    journal_mode.mkdir(parents=True)
    lines = [json.dumps(record(placement.id, user_id="r-1")), json.dumps(poisoned(placement.id)),
             json.dumps(record(placement.id, user_id="r-2"))]
    (journal_mode / "web-7-1-gone.jsonl").write_text("\n".join(lines) + "\n")

    call_command("flush_decisions", stdout=StringIO())

    users = set(Decision.objects.values_list("user_id", flat=True))
    assert {"r-1", "r-2"} <= users
    assert not (journal_mode / "web-7-1-gone.jsonl").exists()
    if connection.vendor == "postgresql":
        assert users == {"r-1", "r-2"}
        assert [json.loads(k["line"])["user_id"] for k in quarantined(journal_mode)] == ["poison"]


def test_recovery_running_while_a_segment_is_being_created_never_takes_it(journal_mode, monkeypatch):
    """A second process's recovery looks at the folder at the worst moment: after the writer has created
    its new segment and before the writer holds the lock on it. The segment is still the writer's."""
    placement = PlacementFactory(slug="race-banner")
    raced = []

    def recovery_in_between(path):
        raced.append(decision_log.recover_orphans(journal_mode))

    monkeypatch.setattr(decision_log, "_between_create_and_lock", recovery_in_between)
    journal = decision_log.journal()
    first = record(placement.id, user_id="racer")
    journal.append(first)
    monkeypatch.setattr(decision_log, "_between_create_and_lock", None)
    journal.append(record(placement.id, user_id="second"))

    assert raced == [0]
    assert len(list(journal_mode.glob("*.jsonl"))) == 1  # the segment is still there, in the writer's hands
    assert decision_log.flush_journal() == 2
    assert set(Decision.objects.values_list("user_id", flat=True)) == {"racer", "second"}


def test_always_syncs_each_line_and_a_failed_sync_takes_the_line_back_for_a_direct_write(
        rank, journal_mode, settings, monkeypatch):
    settings.KALEIDO_DECISION_FSYNC = "always"
    decision_log.close_journal()
    placement, _ = catalogue()
    synced = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(fd) or real_fdatasync(fd))

    kept = rank(placement.slug, user_id="on-disk")["decision_id"]
    assert len(synced) == 1 and not Decision.objects.filter(decision_id=kept).exists()  # synced, not yet flushed

    def failing(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    direct = rank(placement.slug, user_id="disk-failed")["decision_id"]
    assert Decision.objects.filter(decision_id=direct).exists()  # written directly before answering

    monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    decision_log.flush_journal()
    assert sorted(Decision.objects.values_list("user_id", flat=True)) == ["disk-failed", "on-disk"]


def test_interval_syncs_only_segments_with_lines_not_yet_on_disk(journal_mode, settings, monkeypatch):
    settings.KALEIDO_DECISION_FSYNC = "interval"
    decision_log.close_journal()
    placement = PlacementFactory(slug="interval-banner")
    synced = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(fd) or real_fdatasync(fd))
    journal = decision_log.journal()

    journal.append(record(placement.id))
    assert synced == []  # the call itself never waits for the disk
    journal.sync()
    journal.sync()
    assert len(synced) == 1
    journal.append(record(placement.id))
    journal.sync()
    assert len(synced) == 2
    assert decision_log.flush_journal() == 2


def test_a_pending_segment_left_by_a_process_that_died_creating_it_is_removed_once_old(journal_mode):
    journal_mode.mkdir(parents=True)
    young = journal_mode / "web-5-1-young.jsonl.creating"
    old = journal_mode / "web-6-1-old.jsonl.creating"
    young.write_bytes(b"")
    old.write_bytes(b"")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert decision_log.recover_orphans(journal_mode) == 0

    assert young.exists() and not old.exists()
