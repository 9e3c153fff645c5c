"""Faults across real processes: PostgreSQL restarted (with a poisoned journal line), crashed (SIGKILL) and
hung (SIGSTOP) under rank and events load with the decision journal, and a Celery worker killed in the
middle of a generation job. Each prints what was sent and what was stored, and counts the stored rows
against what the clients were answered.

The PostgreSQL faults hit a throwaway cluster each test starts on its own port in a temp dir; the shared
server on 127.0.0.1:5432 only provides the migrated template and is never stopped or signalled."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from . import stack

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _services():
    missing = stack.services_missing()
    if missing:
        pytest.skip(f"needs the local PostgreSQL and Redis servers: {missing}")


def poisoned_orphan(journal: Path, seed: dict, *, prefix: str) -> set[str]:
    """A segment left by a dead process (an older release's, or hand-written): five good decisions and,
    among them, one whose feature holds a NUL, which PostgreSQL's jsonb refuses. Returns the good ids."""
    good = []
    lines = []
    for i in range(6):
        decision_id = uuid.uuid4().hex
        features = {"city": "a\u0000b"} if i == 3 else {"city": "Lyon"}
        lines.append(json.dumps({
            "decision_id": decision_id, "placement_id": seed["placement"], "user_id": f"{prefix}-r-orphan-{i}",
            "features": features, "context": {}, "bucket": "control", "experiment_id": None, "model_version": "",
            "created_at": datetime.now(UTC).isoformat(), "assigned_bucket": "control", "fallback_reason": "",
            "candidates": 3, "items": [{"variant_id": seed["variant"], "rank": 1, "propensity": 1.0}]}))
        if i != 3:
            good.append(decision_id)
    journal.mkdir(parents=True, exist_ok=True)
    (journal / "gone-host-999-1-poisoned.jsonl").write_text("\n".join(lines) + "\n")
    return set(good)


@dataclass
class Served:
    pg: stack.OwnPostgres
    db: str
    base: str
    seed: dict
    journal: Path
    finish: Callable[[], None]


@contextmanager
def served_on_own_postgres(name: str):
    """A throwaway PostgreSQL cluster (never the shared server), a migrated database on it and gunicorn
    serving it with the journal, as docker-compose runs it. Yields a Served; `served.finish()` stops the
    server gracefully (each worker flushes its journal at exit) and stores whatever a worker left, as an
    operator's `flush_decisions` would, before the rows are counted."""
    try:
        pg = stack.OwnPostgres(stack.free_port())
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    journal = Path(tempfile.mkdtemp(prefix="kaleido-hard-journal-"))
    try:
        pg.init()
        pg.start()
        db = pg.load_schema_from(f"{stack.PG_ADMIN}/{stack.ensure_template()}", name)
        # No Redis here: these tests are about the database; tasks run in-process, the cache is local.
        env = stack.app_env(db, REDIS_URL="", CELERY_BROKER_URL="", DB_CONN_MAX_AGE="60",
                            KALEIDO_DECISION_LOG="journal", KALEIDO_DECISION_JOURNAL_DIR=str(journal),
                            KALEIDO_DECISION_FLUSH_S="0.1", KALEIDO_DB_CONNECT_TIMEOUT_S="3")
        seed = stack.seed_served(env)
        port = stack.free_port()
        with stack.processes() as start:
            web = start("web", stack.gunicorn_args(port, workers=2), env)
            stack.wait_http(f"http://127.0.0.1:{port}/api/schema/", proc=web)

            def finish() -> None:
                web.kill()
                stack.manage("flush_decisions", "--dir", str(journal), env=env)

            yield Served(pg, db, f"http://127.0.0.1:{port}", seed, journal, finish)
    finally:
        pg.destroy()
        shutil.rmtree(journal, ignore_errors=True)


def test_postgres_restarted_under_rank_and_events_load_with_a_poisoned_journal_line():
    with served_on_own_postgres("kaleido_fault_restart") as served:
        load = stack.ServedLoad(served.base, served.seed, prefix="pgr")
        orphans: set[str] = set()

        def restart():
            orphans.update(poisoned_orphan(served.journal, served.seed, prefix="pgr"))
            served.pg.stop()  # the database goes away under load...
            time.sleep(2.0)
            served.pg.start()  # ...and comes back

        load.run(restart)
        quarantine = served.journal / "quarantine" / "gone-host-999-1-poisoned.jsonl"
        stack.wait_for(quarantine.exists, timeout=30, what="the poisoned line quarantined by a running flusher")
        served.finish()
        load.answered.extend(orphans)  # the orphan's good decisions are owed to the table like answered ones
        load.rank_calls += len(orphans)
        counted = load.check(served.db, label="PostgreSQL restarted")
        kept = [json.loads(line) for line in quarantine.read_text().splitlines()]
    print(f"quarantined: {[(json.loads(k['line'])['user_id'], k['reason'][:60]) for k in kept]}")
    assert [json.loads(k["line"])["user_id"] for k in kept] == ["pgr-r-orphan-3"]
    assert json.loads(kept[0]["line"])["decision_id"] not in counted["decisions"]
    assert load.failures, "the restart should have failed some requests (else nothing was tested)"


def test_postgres_killed_with_sigkill_during_ingestion_loses_and_doubles_nothing():
    with served_on_own_postgres("kaleido_fault_crash") as served:
        load = stack.ServedLoad(served.base, served.seed, prefix="pgk")

        def crash():
            served.pg.crash()  # every process of the cluster at once: no shutdown checkpoint
            time.sleep(1.0)
            served.pg.start_after_crash()  # WAL replay

        load.run(crash)
        served.finish()
        load.check(served.db, label="PostgreSQL SIGKILLed")
    assert load.failures, "the crash should have failed some requests (else nothing was tested)"


def test_postgres_hung_with_sigstop_during_ingestion_loses_and_doubles_nothing():
    with served_on_own_postgres("kaleido_fault_hang") as served:
        load = stack.ServedLoad(served.base, served.seed, prefix="pgh")

        def hang():
            served.pg.signal_all(signal.SIGSTOP)  # the server hangs: connections stay open, nothing answers
            try:
                time.sleep(12.0)  # longer than a client's 10 s timeout: some calls are retried meanwhile
            finally:
                served.pg.signal_all(signal.SIGCONT)

        load.run(hang)
        served.finish()
        load.check(served.db, label="PostgreSQL hung (SIGSTOP) for 12 s")


START_JOB = """
import json
from creative.models import CreativeKit, Placement
from generation.services import start_job
p = Placement.objects.create(slug="gen-kill", name="Gen kill", width=750, height=300)
kit = CreativeKit.objects.create(placement=p, name="kit", offer_name="Gold Savings Plan")
job = start_job(kit=kit, backend="procedural", mixes=[{"photo": 1.0}, {"clay": 1.0}, {"flat": 1.0}],
                images_per_mix=8, steps=40, width=1200, height=480, seed=7)
print(json.dumps({"job": job.pk, "total": job.total_images}))
"""


@pytest.mark.usefixtures("_redis_db_to_ourselves")
def test_worker_killed_mid_job_the_job_is_picked_up_again_with_no_duplicate_images():
    db = stack.fresh_database("kaleido_hard_worker")
    media = Path(tempfile.mkdtemp(prefix="kaleido-hard-media-"))
    # A short visibility timeout: an unacknowledged task of a dead worker is redelivered after 4 s. Progress
    # is written at every step, and 24 images are asked for, so the job is still running when the first image
    # is seen and the worker killed (with progress writes throttled, 6 images finished within one poll).
    env = stack.app_env(db, MEDIA_ROOT=str(media), CELERY_VISIBILITY_TIMEOUT="4", GENERATION_PROGRESS_S="0")
    stack.flush_redis()

    def images():
        return stack.psql(f"SELECT count(*), count(DISTINCT job_index) FROM creative_imagematerial "
                          f"WHERE generation_job_id = {job['job']}", url=db)

    def status():
        return stack.psql(f"SELECT status FROM generation_generationjob WHERE id = {job['job']}", url=db)

    worker = ["worker", "-Q", "gpu", "--pool", "solo", "--without-gossip", "--without-mingle",
              "--without-heartbeat", "-l", "WARNING"]
    with stack.processes() as start:
        first = start("worker-a", stack.celery_args(*worker, "-n", "a@%h"), env)
        job = stack.django_shell(START_JOB, env=env)
        stack.wait_for(lambda: int(images().split("|")[0]) >= 1, timeout=60, what="first image saved")
        first.kill(signal.SIGKILL)  # the worker dies mid-job, its task unacknowledged
        at_kill, at_kill_status = images(), status()
        # A worker restores unacknowledged tasks older than the visibility timeout when it starts polling
        # (and on a slow timer after that): start the second one once the timeout has passed.
        time.sleep(5)
        second = start("worker-b", stack.celery_args(*worker, "-n", "b@%h"), env)
        try:
            stack.wait_for(lambda: status() == "succeeded", timeout=90, what="job finished by the second worker")
        except TimeoutError:
            raise AssertionError(f"status {status()}, images {images()}\n{second.tail()}") from None
    count, distinct = map(int, images().split("|"))
    files = sorted(p.name for p in media.rglob(f"gen-{job['job']}-*.png"))
    print(f"\njob {job['job']} of {job['total']} images: at the kill {at_kill} (count|distinct), status "
          f"{at_kill_status}; after the second worker: {count} images, {distinct} distinct indices, "
          f"{len(files)} files")
    assert at_kill_status == "running" and int(at_kill.split("|")[0]) < job["total"]
    assert count == distinct == len(files) == job["total"]
