"""The whole stack as separate processes, the way docker-compose runs it: gunicorn, a Celery worker per
queue (gpu, cpu), and beat, on the local PostgreSQL (own database) and Redis (db 7). The demo loop runs
through them: a generation job goes through the gpu worker, variants are composed, simulated users are
ranked and report events over HTTP, beat's retrain sweep trains a model on the cpu worker, and beat's
rollup refresh fills the daily rollups."""

from __future__ import annotations

import random
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ranking import simulator

from . import stack

pytestmark = [pytest.mark.slow]

SEED = """
import json
from access.services import api_key_create
from creative import demo
from creative.demo_context import DemoContext
from generation.services import start_job
ctx = DemoContext(stdout=open("/dev/null", "w"), users=0)
demo.seed_catalogue(ctx)
kit = ctx.kits[0]
job = start_job(kit=kit, backend="procedural", mixes=[{"flat": 1.0}, {"gold": 1.0}], images_per_mix=2, steps=4,
                seed=5)
print(json.dumps({"kit": kit.pk, "placement": kit.placement.slug, "job": job.pk, "images": job.total_images,
                  "key": api_key_create(name="stack", scopes=["rank", "events", "analytics:read"]).secret}))
"""

COMPOSE = """
import json
from creative import demo
from creative.demo_context import DemoContext
from creative.models import CreativeKit, StyleVariant
from generation.services import job_accept
kit = CreativeKit.objects.get(pk=%d)
for job in kit.generation_jobs.all():  # an operator accepts the generated images: only those are combined
    job_accept(job=job)
ctx = DemoContext(stdout=open("/dev/null", "w"), kits=[kit])
demo.compose_variants(ctx)
live = StyleVariant.objects.filter(placement=kit.placement, status="live")
print(json.dumps({"live": {v.id: v.tags for v in live}}))
"""


def _count(db: str, sql: str) -> int:
    return int(stack.psql(sql, url=db) or 0)


@pytest.mark.usefixtures("_redis_db_to_ourselves")
def test_demo_loop_runs_through_web_workers_and_beat():
    missing = stack.services_missing()
    if missing:
        pytest.skip(f"needs the local PostgreSQL and Redis servers: {missing}")
    db = stack.fresh_database("kaleido_hard_stack")
    tmp = Path(tempfile.mkdtemp(prefix="kaleido-hard-stack-"))
    env = stack.app_env(
        db, MEDIA_ROOT=str(tmp / "media"), MODEL_ROOT=str(tmp / "models"), KALEIDO_TRAIN_MIN_ROWS="100",
        KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS="150", KALEIDO_RETRAIN_INTERVAL_S="3", KALEIDO_ROLLUP_EVERY_S="2",
        KALEIDO_RETRAIN_MIN_AUC="0", KALEIDO_TRAIN_THREADS="1")
    stack.flush_redis()
    port = stack.free_port()
    base = f"http://127.0.0.1:{port}"
    worker = ["worker", "--pool", "solo", "--without-gossip", "--without-mingle", "-l", "WARNING"]
    with stack.processes() as start:
        web = start("web", stack.gunicorn_args(port, workers=2), env)
        gpu = start("worker-gpu", stack.celery_args(*worker, "-Q", "gpu", "-n", "gpu@%h"), env)
        cpu = start("worker-cpu", stack.celery_args(*worker, "-Q", "cpu", "-n", "cpu@%h"), env)
        seed = stack.django_shell(SEED, env=env)
        job_status = f"SELECT count(*) FROM generation_generationjob WHERE id = {seed['job']} AND status = 'succeeded'"
        try:
            stack.wait_for(lambda: _count(db, job_status), timeout=90, what="generation job done by the gpu worker")
        except TimeoutError:
            raise AssertionError(gpu.tail()) from None
        live = {int(k): v for k, v in stack.django_shell(COMPOSE % seed["kit"], env=env, timeout=180)["live"].items()}
        stack.wait_http(f"{base}/api/schema/", proc=web)
        beat = start("beat", stack.celery_args("beat", "--schedule", str(tmp / "beat-schedule"), "-l", "WARNING"),
                     env)

        # Simulated users: rank, see the first item, sometimes click — all over HTTP, 4 at a time.
        users = simulator.make_users(360, seed=9, prefix="stack")
        sent = {"ranks": 0, "events": 0, "errors": []}
        lock = threading.Lock()

        def visit(chunk):
            rng = random.Random(chunk[0].user_id)
            for user in chunk:
                status, answer = stack.post_json(f"{base}/api/v1/rank", {
                    "placement": seed["placement"], "user": {"id": user.user_id, "features": user.features},
                    "context": user.context}, key=seed["key"])
                if status != 200:
                    with lock:
                        sent["errors"].append((status, answer))
                    continue
                item = answer["items"][0]
                kinds = ["impression"]
                if rng.random() < simulator.click_probability(user, item["tags"], variant_key=item["variant_key"]):
                    kinds.append("click")
                events = [{"event_id": f"{answer['decision_id']}-{kind}", "type": kind,
                           "decision_id": answer["decision_id"], "variant_id": item["variant_id"],
                           "user_id": user.user_id, "placement": seed["placement"], "position": 1,
                           "ts": datetime.now(UTC).isoformat()} for kind in kinds]
                status, answer = stack.post_json(f"{base}/api/v1/events", {"events": events}, key=seed["key"])
                with lock:
                    sent["ranks"] += 1
                    if status == 202 and answer["accepted"] == len(events):
                        sent["events"] += len(events)
                    else:
                        sent["errors"].append((status, answer))

        threads = [threading.Thread(target=visit, args=(users[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)

        trained = "SELECT count(*) FROM ranking_modelversion"
        try:
            stack.wait_for(lambda: _count(db, trained), timeout=90, what="a model trained by beat's retrain sweep")
            stack.wait_for(lambda: _count(db, "SELECT count(*) FROM analytics_dailyrollup"), timeout=30,
                           what="rollups refreshed by beat")
        except TimeoutError:
            raise AssertionError(f"beat:\n{beat.tail()}\ncpu worker:\n{cpu.tail()}") from None
        status, after = stack.post_json(f"{base}/api/v1/rank", {"placement": seed["placement"],
                                                                "user": {"id": "after", "features": {"age": 30}}},
                                        key=seed["key"])

    decisions = _count(db, "SELECT count(*) FROM ranking_decision")
    events = _count(db, "SELECT count(*) FROM analytics_event")
    models = stack.psql("SELECT version, rows, is_active FROM ranking_modelversion", url=db)
    images = _count(db, f"SELECT count(*) FROM creative_imagematerial WHERE generation_job_id = {seed['job']}")
    rollups = _count(db, "SELECT coalesce(sum(impressions), 0) FROM analytics_dailyrollup")
    print(f"\njob {seed['job']}: {images} of {seed['images']} images via the gpu worker; {len(live)} live variants; "
          f"sent {sent['ranks']} ranks and {sent['events']} events ({len(sent['errors'])} errors); stored "
          f"{decisions} decisions, {events} events; models (version|rows|active): {models}; rollup impressions "
          f"{rollups}; rank afterwards: {status}")
    assert not sent["errors"], sent["errors"][:3]
    assert images == seed["images"] and len(live) > 0
    assert decisions == sent["ranks"] + 1 and events == sent["events"]
    assert models and status == 200
    assert rollups > 0
