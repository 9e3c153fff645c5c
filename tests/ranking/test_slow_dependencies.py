"""A dependency turns slow: rank still answers with a valid design, and says why it fell back."""

from __future__ import annotations

import socket
import threading

import pytest

from ranking import registry, services
from ranking.buckets import ServingMode
from ranking.models import Decision

from .factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained():
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=800, seed=4)
    version = services.train_model(placement=placement, algo="logreg", activate=True).model_version
    registry.reset_caches()  # a fresh process: the model is not in memory yet
    return placement, version


def test_a_model_still_loading_serves_control_until_it_is_ready(trained, rank, settings, monkeypatch):
    placement, version = trained
    settings.KALEIDO_RANK_MODEL_WAIT_S = 0.05
    disk_answers = threading.Event()
    real_load = registry.load_from_row

    def slow_disk(mv):
        disk_answers.wait(timeout=30)  # the artefact's file system hangs until the test lets it answer
        return real_load(mv)

    monkeypatch.setattr(registry, "load_from_row", slow_disk)

    while_loading = rank(placement.slug, user_id="u-1", k=2)

    assert while_loading["bucket"] == "control" and while_loading["model_version"] == "fallback:model_loading"
    assert while_loading["items"][0]["variant_id"] == placement.control_variant_id
    decision = Decision.objects.get(decision_id=while_loading["decision_id"])
    assert decision.assigned_bucket == "model" and decision.fallback_reason == "model_loading"

    disk_answers.set()
    registry.get_model(version)  # without a wait limit: returns once the loader thread has finished

    loaded = rank(placement.slug, user_id="u-1", k=2)
    assert loaded["bucket"] == "model" and loaded["model_version"] == version


def test_a_model_load_that_fails_on_the_loader_thread_is_reported_like_a_corrupt_artefact(trained, rank,
                                                                                           monkeypatch):
    placement, _ = trained

    def broken_disk(mv):
        raise OSError("input/output error")

    monkeypatch.setattr(registry, "load_from_row", broken_disk)

    body = rank(placement.slug, user_id="u-2")

    assert body["bucket"] == "control" and body["model_version"] == "fallback:artefact_corrupt"


@pytest.fixture
def hung_redis():
    """A TCP port that accepts connections and never answers: a Redis that hangs rather than refuses."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_hung_cache_costs_its_timeout_and_rank_still_serves_the_model(trained, rank_client, settings,
                                                                        hung_redis):
    placement, version = trained
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": hung_redis,
                                   "OPTIONS": {"socket_timeout": 0.05, "socket_connect_timeout": 0.05}}}

    answers = [rank_client.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": f"u-{i}"}, "k": 2},
                                format="json") for i in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    bodies = [a.json() for a in answers]
    # The API key, the rate limit, the catalogue token and the active model all fall back to the
    # database or process memory, so the model bucket keeps serving the model.
    assert all(b["bucket"] == "model" and b["model_version"] == version for b in bodies)
    assert Decision.objects.filter(decision_id__in=[b["decision_id"] for b in bodies]).count() == 3
