"""Integration: a real Celery worker on the gpu queue, fed through Redis, runs jobs the web side starts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("GENERATION_TEST_BROKER", "redis://127.0.0.1:6379/3")

SCRIPT = r"""
import json, time
from django.db import transaction
from creative.models import Placement, CreativeKit
from generation.registry import base_model_register
from generation.services import start_job
from generation.models import GenerationJob

kit = CreativeKit.objects.create(placement=Placement.objects.create(slug="sq", name="Square", width=300, height=300),
                                 name="Kit", offer_name="Gold Savings Plan")
tiny = base_model_register(name="tiny-sd", path="tiny-sd", family="other", default_steps=2, default_guidance=1.0)
jobs = [
    start_job(kit=kit, backend="procedural", mixes=[{"flat": 1.0}, {"gold": 1.0}], images_per_mix=2,
              width=64, height=64, steps=3, seed=1),
    start_job(kit=kit, base_model=tiny, backend="diffusers", mixes=[{}], images_per_mix=2, width=32, height=32, seed=2),
]
deadline = time.time() + 240
while time.time() < deadline:
    states = list(GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]).order_by("pk"))
    if all(j.is_finished for j in states):
        break
    time.sleep(0.5)
print("RESULT " + json.dumps([{"status": j.status, "error": j.error, "progress": j.progress,
                               "images": j.images.count(), "backend": j.backend} for j in states]))
"""


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.redis
def test_a_real_worker_runs_jobs_from_the_redis_queue(tmp_path, tiny_weights):
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    # The worker is another process: it shares a file database (not pytest's test database) with the script.
    models = tmp_path / "models"
    shutil.copytree(tiny_weights / "tiny-sd", models / "tiny-sd")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}", "CELERY_BROKER_URL": BROKER,
           "MEDIA_ROOT": str(tmp_path / "media"), "MODEL_ROOT": str(models), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]), "HF_HUB_OFFLINE": "1"}
    env.pop("REDIS_URL", None)
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
    celery = [python, "-m", "celery", "-A", "kaleido"]
    subprocess.run([*celery, "purge", "-f", "-Q", "gpu"], env=env, cwd=ROOT, check=False, timeout=60,
                   capture_output=True)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([*celery, "worker", "-Q", "gpu", "--pool", "solo", "-l", "info", "-n",
                               f"gen-test-{os.getpid()}@%h"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        done = subprocess.run([*manage, "shell", "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:] + (tmp_path / "worker.log").read_text()[-3000:]
    procedural, diffusion = json.loads(lines[-1][len("RESULT "):])
    worker_log = (tmp_path / "worker.log").read_text()
    assert procedural == {"status": "succeeded", "error": "", "progress": 100.0, "images": 4,
                          "backend": "procedural"}, worker_log[-3000:]
    assert diffusion["status"] == "succeeded" and diffusion["images"] == 2, worker_log[-3000:]
    assert "generation.tasks.generation_job_run" in worker_log
