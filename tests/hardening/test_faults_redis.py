"""Redis restarted in the middle of a rate-limit window, on a throwaway redis-server of our own (persisting
like docker-compose's, `--appendonly yes`; the shared Redis on 6379 is never touched).

The story: a BFF's key may send 40 requests a minute. It spends 25, Redis restarts, and the key goes on
sending. While Redis is down requests are let through (a cache outage never takes serving down); once it
is back the window's counter is where it was, so the key gets the 15 it had left, not a fresh 40. The
requests refused with 429 are sent again in the next window, the way the SDK retries, and every event
is stored exactly once.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from access import throttling
from access.services import api_key_create
from analytics.models import Event
from ranking.models import Decision
from tests.factories import PlacementFactory, StyleVariantFactory

from . import stack

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

LIMIT = 40  # under 400 a minute a key is counted exactly: one token per lease


@pytest.fixture
def own_redis():
    try:
        server = stack.OwnRedis(stack.free_port())
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def clock(monkeypatch):
    """The rate-limit windows are cut from this clock: it starts in the middle of a window and moves only
    when the test says so."""
    now = [throttling.WINDOW_SECONDS * 29_000_000 + throttling.WINDOW_SECONDS / 2]
    monkeypatch.setattr(throttling, "_now", lambda: now[0])
    return now


def test_redis_restarted_mid_window_keeps_the_windows_count_and_every_event_is_stored_once(
        own_redis, clock, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": own_redis.url,
                                   "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}}
    throttling.forget_local_leases()
    placement = PlacementFactory(slug="redis-restart")
    variant = StyleVariantFactory(placement=placement, status="live")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key " + api_key_create(
        name="bff", scopes=["events"], rate_limit_per_minute=LIMIT).secret)
    refused: list[dict] = []

    def shown(user: str) -> str:
        """A decision /rank answered earlier, whose impression the event reports."""
        decision = Decision.objects.create(placement=placement, user_id=user, bucket="random", candidates=1,
                                           items=[{"variant_id": variant.id, "rank": 1, "propensity": 1.0}],
                                           created_at=timezone.now())
        return str(decision.decision_id)

    def send(n: int, tag: str) -> int:
        """Send n one-event batches; returns how many were admitted (202), keeps the refused ones (429)."""
        admitted = 0
        for i in range(n):
            user = f"u-{tag}-{i}"
            body = {"events": [{"event_id": f"rr-{tag}-{i}", "type": "impression", "variant_id": variant.id,
                                "decision_id": shown(user), "user_id": user, "placement": placement.slug, "position": 1,
                                "ts": timezone.now().isoformat()}]}
            response = client.post("/api/v1/events", body, format="json")
            assert response.status_code in (202, 429), response.content
            if response.status_code == 202:
                assert response.json()["accepted"] == 1, response.json()
                admitted += 1
            else:
                refused.append(body)
        return admitted

    before = send(25, "before")
    own_redis.stop()
    during = send(5, "during")  # Redis is down: let through, counted nowhere
    own_redis.start()  # the same folder: the append-only file brings the counter back
    after = send(30, "after")
    window_full = send(5, "full")

    clock[0] += throttling.WINDOW_SECONDS  # the next window: the SDK's retries of the refused batches
    retried = [(r.status_code, r.json().get("accepted")) for r in
               (client.post("/api/v1/events", body, format="json") for body in refused)]

    sent = 25 + 5 + 30 + 5
    stored = Event.objects.filter(event_id__startswith="rr-").count()
    distinct = Event.objects.filter(event_id__startswith="rr-").values("event_id").distinct().count()
    print(f"\nlimit {LIMIT}/min: admitted {before} before the restart, {during} while Redis was down, {after} of 30 "
          f"after it, {window_full} of 5 once full; {len(refused)} refused and resent next window "
          f"({sorted(set(retried))}: status, accepted); sent {sent}, stored {stored} ({distinct} distinct)")
    assert before == 25 and during == 5
    assert after == LIMIT - before and window_full == 0  # the window kept its count: nothing allowed twice
    assert retried == [(202, 1)] * len(refused) and len(refused) == 30 - after + 5
    assert stored == distinct == sent  # nothing lost, nothing doubled
