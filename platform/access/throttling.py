"""Per-API-key rate limits: 429 with Retry-After once a key spends its requests for the minute.

A fixed one-minute window counted with one atomic increment per request: DRF's
SimpleRateThrottle keeps a timestamp list per key, which at tens of thousands of requests a
minute costs milliseconds on every rank call. On Redis the increment and the expiry go in one
pipelined round trip; other caches use add + incr.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from .authentication import ApiKeyPrincipal

WINDOW_SECONDS = 60


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, ApiKeyPrincipal):
            return True  # staff sessions are not rate limited here
        limit = user.api_key.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"throttle:{user.api_key.prefix}:{window}"
        try:
            count = count_request(key)
        except Exception:  # a cache outage must not take serving down with it
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * WINDOW_SECONDS - now
        return False

    def wait(self) -> float:
        return max(1.0, self._wait)


def count_request(key: str) -> int:
    """Add one to the window's counter and return the new count."""
    redis_client = _redis_client(key)
    if redis_client is not None:
        full_key = cache.make_and_validate_key(key)
        pipe = redis_client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_SECONDS + 5)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    return cache.incr(key)


def _redis_client(key: str):
    """The raw redis-py client behind Django's RedisCache (kept on the backend, which Django holds per
    thread, because building one costs more than the INCR), or None for other backends."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    client = getattr(backend, "_kaleido_raw_client", None)
    if client is None:
        client = backend._kaleido_raw_client = backend._cache.get_client(key, write=True)
    return client
