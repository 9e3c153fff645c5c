"""Faults across real processes: PostgreSQL restarted under an ingestion load, and a Celery worker
killed in the middle of a generation job. Each prints what was sent and what was stored."""

from __future__ import annotations

import signal
import tempfile
import threading
import time
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


SEED_INGEST = """
import json
from access.services import api_key_create
from creative.models import Placement, StyleVariant
p = Placement.objects.create(slug="pg-restart", name="PG restart", width=750, height=300)
v = StyleVariant.objects.create(placement=p, variant_key="only", status="live")
print(json.dumps({"key": api_key_create(name="ingest", scopes=["events"]).secret, "variant": v.id}))
"""


def test_postgres_restart_during_ingestion_loses_and_doubles_nothing():
    try:
        pg = stack.OwnPostgres(stack.free_port())
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        pg.init()
        pg.start()
        stack.ensure_template()
        db = pg.load_schema_from(f"{stack.PG_ADMIN}/{stack.TEMPLATE_DB}", "kaleido_fault")
        # No Redis here: this test is about the database; tasks run in-process, the cache is local.
        env = stack.app_env(db, REDIS_URL="", CELERY_BROKER_URL="", DB_CONN_MAX_AGE="60")
        seed = stack.django_shell(SEED_INGEST, env=env)
        port = stack.free_port()
        with stack.processes() as start:
            web = start("web", stack.gunicorn_args(port, workers=2), env)
            stack.wait_http(f"http://127.0.0.1:{port}/api/schema/", proc=web)
            url = f"http://127.0.0.1:{port}/api/v1/events"
            batches = [[{"event_id": f"pgr-{b}-{i}", "type": "impression", "variant_id": seed["variant"],
                         "user_id": f"u-{b}-{i}", "placement": "pg-restart", "position": 1,
                         "ts": datetime.now(UTC).isoformat()} for i in range(25)] for b in range(80)]
            failures: list = []
            results: dict[int, tuple] = {}
            deadline = time.monotonic() + 60

            def sender(mine):
                for b in mine:
                    results[b] = stack.send_like_the_sdk(url, {"events": batches[b]}, key=seed["key"],
                                                         deadline=deadline, log=failures)
                    time.sleep(0.05)

            threads = [threading.Thread(target=sender, args=(range(t, len(batches), 4),)) for t in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            restart_at = time.monotonic()
            pg.stop()  # the database goes away under load...
            time.sleep(2.0)
            pg.start()  # ...and comes back
            for t in threads:
                t.join(timeout=90)
        sent = {e["event_id"] for batch in batches for e in batch}
        stored, distinct = map(int, stack.psql(
            "SELECT count(*), count(DISTINCT event_id) FROM analytics_event WHERE event_id LIKE 'pgr-%'",
            url=db).split("|"))
        ledger = int(stack.psql("SELECT count(*) FROM analytics_eventkey WHERE event_id LIKE 'pgr-%'", url=db))
        during = [s for when, s in failures if when >= restart_at]
        print(f"\nsent {len(sent)} events in {len(batches)} batches; {len(failures)} failed tries "
              f"(statuses {sorted(set(s for _, s in failures))}, {len(during)} after the restart began), retried; "
              f"answers {sorted({r[0] for r in results.values()})}; stored {stored} rows, {distinct} distinct, "
              f"ledger {ledger}")
        assert len(results) == len(batches) and all(r[0] == 202 for r in results.values()), results
        assert failures, "the restart should have failed some requests (else nothing was tested)"
        # While the database is away the API says so (503 with Retry-After) or the connection drops; never a 500.
        assert {s for _, s in failures} <= {0, 503}, failures  # 0: the connection itself failed
        assert stored == distinct == ledger == len(sent)
    finally:
        pg.destroy()


START_JOB = """
import json
from creative.models import CreativeKit, Placement
from generation.services import start_job
p = Placement.objects.create(slug="gen-kill", name="Gen kill", width=750, height=300)
kit = CreativeKit.objects.create(placement=p, name="kit", offer_name="Gold Savings Plan")
job = start_job(kit=kit, backend="procedural", mixes=[{"photo": 1.0}, {"clay": 1.0}, {"flat": 1.0}],
                images_per_mix=2, steps=40, width=1200, height=480, seed=7)
print(json.dumps({"job": job.pk, "total": job.total_images}))
"""


@pytest.mark.usefixtures("_redis_db_to_ourselves")
def test_worker_killed_mid_job_the_job_is_picked_up_again_with_no_duplicate_images():
    db = stack.fresh_database("kaleido_hard_worker")
    media = Path(tempfile.mkdtemp(prefix="kaleido-hard-media-"))
    # A short visibility timeout: an unacknowledged task of a dead worker is redelivered after 4 s.
    env = stack.app_env(db, MEDIA_ROOT=str(media), CELERY_VISIBILITY_TIMEOUT="4")
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
