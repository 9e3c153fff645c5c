"""Rate limits spend tokens each process leases in batches from the shared counter.

A request spends a token the process already holds; only when it holds none does it go to the
cache, for a batch. These tests move a fake clock (the windows are cut from it) instead of waiting
for real minutes.
"""

from __future__ import annotations

import os
import random
import threading
import uuid

import pytest
import redis
from django.core.cache import cache
from rest_framework.test import APIClient

from access import throttling
from access.throttling import WINDOW_SECONDS, LocalLeases, lease_size
from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db

LIVE_REDIS = os.environ.get("REDIS_URL_FOR_TESTS") or "redis://127.0.0.1:6379/14"
DEAD_REDIS = "redis://127.0.0.1:9/7"  # nothing listens on port 9 of loopback


class Clock:
    """Seconds since the epoch as the throttle sees them: one second into a fresh window."""

    def __init__(self) -> None:
        self.now = float((int(throttling.time.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS + 1)

    def __call__(self) -> float:
        return self.now

    @property
    def window(self) -> int:
        return int(self.now // WINDOW_SECONDS)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(throttling, "_now", fake)
    return fake


@pytest.fixture
def round_trips(monkeypatch):
    """Every (counter key, n) this process added to the shared counter, in order."""
    calls = []
    real = throttling.add_to_counter

    def counting(key, n):
        calls.append((key, n))
        return real(key, n)

    monkeypatch.setattr(throttling, "add_to_counter", counting)
    return calls


def _use_redis(settings, location=LIVE_REDIS, **options):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location,
                                   "KEY_PREFIX": uuid.uuid4().hex, "OPTIONS": options}}


@pytest.fixture
def shared_redis(settings):
    """The default cache on a real Redis (a key prefix of this test's own), as deployed web processes share it."""
    try:
        redis.Redis.from_url(LIVE_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {LIVE_REDIS}")
    _use_redis(settings)


@pytest.fixture(params=["process memory", "redis"])
def any_cache(request):
    if request.param == "redis":
        request.getfixturevalue("shared_redis")
    return request.param


def _client(api_key_factory, limit, scopes=("events",)):
    issued = api_key_factory(scopes=scopes, name=f"bff limited to {limit}")
    issued.api_key.rate_limit_per_minute = limit
    issued.api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    client.prefix = issued.api_key.prefix
    return client


def _events(client) -> int:
    return client.post("/api/v1/events", {"events": [{}]}, format="json").status_code


def _counter(prefix, window):
    return cache.get(f"throttle:{prefix}:{window}")


def test_a_key_of_five_a_minute_gets_five_rank_answers_then_429_until_the_window_ends(
        any_cache, api_key_factory, clock):
    placement, _ = catalogue("lease-banner")
    client = _client(api_key_factory, 5, scopes=("rank",))

    answers = [client.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": f"u-{i}"}, "k": 2},
                           format="json") for i in range(7)]

    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert all(len(a.json()["items"]) == 2 for a in answers[:5])
    assert answers[5]["Retry-After"] == answers[6]["Retry-After"] == str(WINDOW_SECONDS - 1)
    assert lease_size(5) == 1  # a small limit is counted exactly, one request per lease


def test_three_processes_sharing_a_key_never_admit_more_than_its_limit(shared_redis, settings, round_trips, clock):
    settings.API_KEY_RATE_LEASE_MAX = 10
    limit, processes = 4005, [LocalLeases() for _ in range(3)]  # the last lease only partly fits
    n = lease_size(limit)
    assert n == 10
    rng = random.Random(5)

    # Requests land on the three processes at random until the first one is refused.
    admitted = 0
    while processes[rng.randrange(3)].spend("shared", limit, clock.window):
        admitted += 1
    print(f"\nfirst refusal after {admitted} of {limit}; leases so far: {len(round_trips)}")
    # The refused process holds nothing; each of the other two may still hold up to n - 1 tokens.
    assert limit - (n - 1) * 2 <= admitted <= limit

    # Everything the processes still hold is spent; then every process refuses, with no more leases.
    for process in processes:
        while process.spend("shared", limit, clock.window):
            admitted += 1
    leases_when_spent = len(round_trips)
    refused_later = [process.spend("shared", limit, clock.window) for process in processes for _ in range(50)]
    assert admitted == limit and not any(refused_later)
    assert len(round_trips) == leases_when_spent

    # The shared counter moved in leases of n, not once per request: about limit / n round trips in all,
    # plus at most one refused lease per process.
    counter = _counter("shared", clock.window)
    print(f"admitted {admitted}; {len(round_trips)} round trips; shared counter {counter}")
    assert {amount for _, amount in round_trips} == {n}
    assert counter == n * len(round_trips)
    assert limit // n <= len(round_trips) <= limit // n + 1 + len(processes)


def test_tokens_other_processes_hold_make_a_key_refused_early_never_late(settings, clock):
    # The precision trade-off: two processes each take one lease of 10 and serve one request of it.
    # At the limit their 9 unspent tokens each are theirs alone, not lent to the third process.
    settings.API_KEY_RATE_LEASE_MAX = 10
    limit = 2000
    a, b, c = LocalLeases(), LocalLeases(), LocalLeases()
    assert a.spend("early", limit, clock.window) and b.spend("early", limit, clock.window)
    admitted_by_c = 0
    while c.spend("early", limit, clock.window):
        admitted_by_c += 1
    assert admitted_by_c == limit - 2 * 10
    assert 2 + admitted_by_c >= limit - (lease_size(limit) - 1) * 3  # the documented bound

    # a and b still serve what they hold, and not one request more.
    held = sum(p.spend("early", limit, clock.window) for p in (a, b) for _ in range(20))
    assert held == 2 * 9 and 2 + admitted_by_c + held == limit


def test_a_refused_key_is_refused_again_without_a_round_trip(shared_redis, api_key_factory, round_trips, clock):
    client = _client(api_key_factory, 2)

    codes = [_events(client) for _ in range(3)]
    assert codes == [202, 202, 429]
    # The lease that brought the counter to the limit told the process the key is spent: the third
    # request was already answered from process memory.
    assert len(round_trips) == 2 and _counter(client.prefix, clock.window) == 2

    flood = [_events(client) for _ in range(30)]
    assert set(flood) == {429}
    assert len(round_trips) == 2 and _counter(client.prefix, clock.window) == 2


def test_a_spent_key_in_another_process_is_refused_after_one_lease(shared_redis, api_key_factory, settings,
                                                                    round_trips, clock):
    client = _client(api_key_factory, 3)
    assert [_events(client) for _ in range(3)] == [202, 202, 202]

    throttling.forget_local_leases()  # the next requests reach a process that has leased nothing yet
    flood = [_events(client) for _ in range(10)]
    assert set(flood) == {429}
    assert len(round_trips) == 4  # one refused lease, then nothing
    assert _counter(client.prefix, clock.window) == 4


def test_with_redis_unreachable_requests_are_allowed_and_counting_resumes_when_a_cache_is_back(
        api_key_factory, settings, round_trips, clock):
    client = _client(api_key_factory, 2)
    _use_redis(settings, DEAD_REDIS, socket_timeout=0.2, socket_connect_timeout=0.2)

    codes = [_events(client) for _ in range(5)]
    assert codes == [202] * 5  # over the limit, but a cache outage must not take serving down
    assert len(round_trips) == 5  # every request tried to lease: the failures left nothing behind

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "cache back"}}
    assert [_events(client) for _ in range(3)] == [202, 202, 429]


def test_a_new_window_starts_fresh(any_cache, api_key_factory, settings, round_trips, clock):
    client = _client(api_key_factory, 2)
    assert [_events(client) for _ in range(4)] == [202, 202, 429, 429]

    clock.now += WINDOW_SECONDS
    assert [_events(client) for _ in range(4)] == [202, 202, 429, 429]
    assert _counter(client.prefix, clock.window) == 2
    assert [key for key, _ in round_trips] == [f"throttle:{client.prefix}:{clock.window - 1}"] * 2 + [
        f"throttle:{client.prefix}:{clock.window}"] * 2


def test_leases_scale_with_the_limit_up_to_the_setting(settings):
    settings.API_KEY_RATE_LEASE_MAX = 100
    assert [lease_size(limit) for limit in (1, 5, 399, 400, 2000, 60000, 10**7)] == [1, 1, 1, 2, 10, 100, 100]
    settings.API_KEY_RATE_LEASE_MAX = 1
    assert lease_size(60000) == 1  # exact counting, one round trip per request


def test_threads_of_one_process_share_its_leases_without_over_admitting(settings, clock):
    settings.API_KEY_RATE_LEASE_MAX = 7
    limit, leases = 1400, LocalLeases()
    admitted = []

    def serve():
        admitted.append(sum(leases.spend("threads", limit, clock.window) for _ in range(400)))

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == limit  # 3,200 requests, 1,400 admitted: none lost, none extra


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_starts_with_no_leases_and_a_free_lock(settings, clock):
    settings.API_KEY_RATE_LEASE_MAX = 10
    limit = 4000
    assert throttling._local_leases.spend("forked", limit, clock.window)  # the parent holds 9 tokens
    # Another thread of the parent holds the lock at the moment of the fork.
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with throttling._local_leases._lock:
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        status = 1
        try:
            child = throttling._local_leases
            if child._lock.acquire(timeout=5):
                child._lock.release()
                status = 0 if child._table == {} else 2
        finally:
            os._exit(status)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert throttling._local_leases._table[("forked", clock.window, limit)].tokens == 9
