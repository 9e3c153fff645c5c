"""Faults one process can survive: Redis gone (cache and broker), and a corrupt model artefact activated.

Each test prints what it sent and what was stored, and checks nothing was lost or doubled.
"""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager

import pytest
import redis
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu import pools as kombu_pools
from rest_framework.test import APIClient

from analytics.models import Event
from generation import services as generation
from generation.models import GenerationJob
from ranking import registry
from ranking import services as ranking
from ranking.buckets import ServingMode
from ranking.models import Decision, ModelVersion
from tests.factories import CreativeKitFactory

from .factories import key_with, served_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DEAD_REDIS = "redis://127.0.0.1:9/7"  # nothing listens on port 9 of loopback
LIVE_REDIS = "redis://127.0.0.1:6379/7"


def _redis_up() -> bool:
    try:
        return redis.Redis.from_url(LIVE_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@contextmanager
def celery_broker(url: str):
    """Point this process's Celery app at `url` (not eager), as a deployed web process would be."""
    from kaleido.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager

    def reset_pools():
        # Closed pools stay registered in kombu per broker URL: clear the registry too, or the next
        # publish to the same URL (in another test) would get a closed pool.
        kombu_pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url, app.conf.task_always_eager = url, False
    reset_pools()
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        reset_pools()


def _queued_job_ids(queue: str = "gpu") -> list[int]:
    """Job ids of the generation tasks waiting in the broker's queue (kombu keeps a Redis list per queue)."""
    ids = []
    for raw in redis.Redis.from_url(LIVE_REDIS).lrange(queue, 0, -1):
        message = json.loads(raw)
        if message["headers"].get("task") == "generation.tasks.generation_job_run":
            ids.append(int(json.loads(base64.b64decode(message["body"]))[0][0]))
    return ids


@pytest.fixture
def model_world(settings):
    placement, variants, version = served_world("fault-banner", experiment=None, model=True)
    placement.default_mode = ServingMode.MODEL
    placement.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_with('rank', 'events')}")
    return placement, variants, version, client


def _rank(client, slug: str, user: str):
    response = client.post("/api/v1/rank", {"placement": slug, "user": {"id": user, "features": {"age": 33}}, "k": 2},
                           format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.usefixtures("_redis_db_to_ourselves")
def test_redis_down_rank_answers_events_are_stored_and_jobs_are_sent_when_it_is_back(
        model_world, settings, django_capture_on_commit_callbacks):
    if not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379 to bring back")
    placement, variants, version, client = model_world
    assert _rank(client, placement.slug, "warm-up")["bucket"] == "model"  # the model is now in process memory

    # Redis goes away: the cache and the broker both point at a closed port.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}}
    answers = [_rank(client, placement.slug, f"u-{i}") for i in range(20)]
    print(f"\nrank with Redis down: {len(answers)} answers, buckets {sorted({a['bucket'] for a in answers})}, "
          f"model versions {sorted({a['model_version'] for a in answers})}")
    assert all(a["bucket"] == "model" and a["model_version"] == version for a in answers)
    assert Decision.objects.filter(decision_id__in=[a["decision_id"] for a in answers]).count() == 20

    events = [{"event_id": f"redis-down-{i}", "type": "impression", "decision_id": a["decision_id"],
               "variant_id": a["items"][0]["variant_id"], "user_id": f"u-{i}", "placement": placement.slug,
               "position": 1, "ts": timezone.now().isoformat()} for i, a in enumerate(answers)]
    first = client.post("/api/v1/events", {"events": events}, format="json")
    replay = client.post("/api/v1/events", {"events": events[:10]}, format="json")  # an SDK retry
    stored = Event.objects.filter(event_id__startswith="redis-down-").count()
    print(f"events with Redis down: sent {len(events)} + {10} again; answers {first.json()} / {replay.json()}; "
          f"stored {stored}")
    assert first.status_code == replay.status_code == 202
    assert first.json()["accepted"] == 20 and replay.json()["duplicates"] == 10 and stored == 20

    # A generation job queued while the broker is down is kept, and sent exactly once when it is back.
    redis.Redis.from_url(LIVE_REDIS).delete("gpu")
    kit = CreativeKitFactory(placement=placement)
    with celery_broker(DEAD_REDIS), django_capture_on_commit_callbacks(execute=True):
        job = generation.start_job(kit=kit, backend=GenerationJob.Backend.PROCEDURAL, mixes=[{"flat": 1.0}])
    job.refresh_from_db()
    print(f"job {job.pk} queued with the broker down: status={job.status}, note={job.error!r}; "
          f"in the broker: {_queued_job_ids()}")
    assert job.status == GenerationJob.Status.QUEUED and job.error == generation.UNSENT
    assert _queued_job_ids() == []

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": LIVE_REDIS}}
    with celery_broker(LIVE_REDIS):
        sent = [generation.jobs_resend_unsent(), generation.jobs_resend_unsent()]  # the beat sweep, twice
    try:
        in_broker = _queued_job_ids()
        print(f"broker back: resent {sent}; job ids in the gpu queue: {in_broker}")
        assert sent == [1, 0] and in_broker == [job.pk]
        job.refresh_from_db()
        assert job.error == ""
    finally:
        redis.Redis.from_url(LIVE_REDIS).delete("gpu")


def test_corrupt_model_serves_control_the_admin_shows_why_and_rollback_fixes_it(model_world):
    placement, variants, first, client = model_world
    # A second version serving is the premise (its quality is not what this tests): past the gate on purpose.
    second = ranking.train_model(placement=placement, algo="logreg", activate=True, force=True,
                                 by="fault test").model_version
    assert _rank(client, placement.slug, "before")["model_version"] == second

    # The active artefact is damaged on disk (a bad copy, a half-written deploy) and a process restarts.
    path = registry.artefact_path(ModelVersion.objects.get(version=second))
    path.write_bytes(b'{"intercept": 0.1, "w_user": [')
    registry.reset_caches()
    answers = [_rank(client, placement.slug, f"u-{i}") for i in range(10)]
    print(f"\nrank with a corrupt v{second}: buckets {sorted({a['bucket'] for a in answers})}, "
          f"model_version {sorted({a['model_version'] for a in answers})}")
    assert all(a["bucket"] == "control" and a["model_version"].startswith("fallback:artefact_corrupt")
               for a in answers)
    control = placement.control_variant_id
    assert all(a["items"][0]["variant_id"] == control for a in answers)

    admin = get_user_model().objects.create_superuser("fault-admin", "a@example.com", "pw-long-enough-123")
    browser = Client()
    browser.force_login(admin)
    page = browser.get(reverse("admin:ranking_modelversion_changelist")).content.decode()
    assert "ERROR artefact_corrupt" in page and "rank serves the control design" in page

    rolled = browser.post("/dashboard/api/models/rollback",
                          {"placement": placement.slug}, content_type="application/json")
    assert rolled.status_code == 200 and rolled.json()["version"] == first
    after = [_rank(client, placement.slug, f"v-{i}") for i in range(10)]
    print(f"after rollback to v{first}: buckets {sorted({a['bucket'] for a in after})}, "
          f"model_version {sorted({a['model_version'] for a in after})}")
    assert all(a["bucket"] == "model" and a["model_version"] == first for a in after)
