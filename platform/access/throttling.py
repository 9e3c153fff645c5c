"""Per-API-key rate limits: 429 with Retry-After once a key spends its requests for the minute.

A fixed one-minute window per key, counted in the shared cache under `throttle:{prefix}:{window}`.
DRF's SimpleRateThrottle keeps a timestamp list per key, which at tens of thousands of requests a
minute costs milliseconds on every rank call; even one Redis round trip per request is a tenth of a
rank call. So each process leases tokens in batches and spends them locally:

- A request spends one token this process already holds: no network call.
- When it holds none, it leases n more with one atomic add of n to the shared counter (on Redis,
  INCRBY and EXPIRE in one pipelined round trip; other caches use add + incr). It is granted the
  part of the batch that fits under the limit, min(n, limit - (total - n)), where total is the
  counter after the add.
- Granted nothing, the request is refused, and the process remembers that the key is spent for
  this window: every further request in it is refused with no round trip at all, so a flooding
  client costs Redis nothing. (A lease that brings the counter to the limit marks the key spent
  too, once its tokens are used.)
- A cache outage (any error talking to the cache) lets the request through and leaves the local
  table as it was.

The lease size is n = max(1, min(API_KEY_RATE_LEASE_MAX, limit // 200)): limits under 400 a minute
are counted exactly, one request per round trip; the default 60,000 leases 100 at a time.

Precision: a process may still hold up to n - 1 unspent tokens when the window ends, and they are
lost, so a key at its limit can be refused up to (n - 1) × (number of processes) requests early. It
can never be admitted past its limit: every admitted request spends a token the shared counter
granted below the limit.

The table is per process and guarded by a lock (gunicorn may run threads). A forked child starts
with an empty table and a new lock.

Report reads (views whose permission is the `analytics:read` scope: the report APIs and the
dashboard's APIs) cost far more than a rank call, so they have a second, much lower limit,
ANALYTICS_RATE_LIMIT_PER_MINUTE, counted per key and per logged-in user (dashboard sessions, which
the per-key limit does not cover), with the same leases under `throttle:reports:{who}:{window}`.
At the default 120 a minute the lease is one token, so it is counted exactly.
"""

from __future__ import annotations

import os
import threading
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from kaleido.metrics import RATE_LIMITED

from .authentication import ApiKeyPrincipal

WINDOW_SECONDS = 60
LEASES_PER_WINDOW = 200  # a full window's limit is leased in about this many batches (at most)

_now = time.time  # the clock the windows are cut from (tests move it)


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        user = request.user
        now = _now()
        window = int(now // WINDOW_SECONDS)
        if _reads_reports(view):
            who = _principal(user)
            if who is not None and not _local_leases.spend(f"reports:{who}", settings.ANALYTICS_RATE_LIMIT_PER_MINUTE,
                                                           window):
                self._wait = (window + 1) * WINDOW_SECONDS - now
                RATE_LIMITED.labels("reports").inc()
                return False
        if not isinstance(user, ApiKeyPrincipal):
            return True  # sessions are limited on report reads only (above)
        limit = user.api_key.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
        if _local_leases.spend(user.api_key.prefix, limit, window):
            return True
        self._wait = (window + 1) * WINDOW_SECONDS - now
        RATE_LIMITED.labels("api_key").inc()
        return False

    def wait(self) -> float:
        return max(1.0, self._wait)


def _reads_reports(view) -> bool:
    """True for a view that `analytics:read` guards (report APIs, dashboard APIs)."""
    return any(getattr(p, "scope", None) == "analytics:read" for p in getattr(view, "permission_classes", ()))


def _principal(user) -> str | None:
    """Who a report read is counted against: the key, or the logged-in user."""
    if isinstance(user, ApiKeyPrincipal):
        return user.api_key.prefix
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user-{user.pk}"
    return None


def lease_size(limit: int) -> int:
    """How many tokens one round trip leases for a key with this limit."""
    return max(1, min(settings.API_KEY_RATE_LEASE_MAX, limit // LEASES_PER_WINDOW))


class _Lease:
    __slots__ = ("tokens", "spent")

    def __init__(self) -> None:
        self.tokens = 0  # leased and not yet spent by this process
        self.spent = False  # the shared counter has reached the limit: lease no more this window


class LocalLeases:
    """The tokens one process holds, per (key prefix, window, limit).

    The limit is part of the slot so that a key whose limit changes mid-window leases afresh
    against the new limit (tokens of the old one are dropped: refused early, never admitted late).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[tuple[str, int, int], _Lease] = {}
        self._window = 0  # the newest window seen; older slots are dropped when it moves on

    def spend(self, prefix: str, limit: int, window: int) -> bool:
        """Spend one token of `prefix` in `window`, leasing a batch when none is held. False: refused."""
        slot = (prefix, window, limit)
        with self._lock:
            lease = self._table.get(slot)
            if lease is not None:
                if lease.tokens > 0:
                    lease.tokens -= 1
                    return True
                if lease.spent:
                    return False
        n = lease_size(limit)
        try:
            total = add_to_counter(f"throttle:{prefix}:{window}", n)
        except Exception:  # a cache outage must not take serving down with it, nor poison the table
            return True
        granted = min(n, limit - (total - n))
        with self._lock:
            if window > self._window:
                self._table = {s: lease for s, lease in self._table.items() if s[1] >= window}
                self._window = window
            elif window < self._window:
                return granted > 0  # the window ended while this lease was in flight: keep nothing
            lease = self._table.setdefault(slot, _Lease())
            if total >= limit:
                lease.spent = True
            if granted > 0:
                lease.tokens += granted - 1
                return True
            if lease.tokens > 0:  # another thread's lease landed meanwhile
                lease.tokens -= 1
                return True
            return False

    def forget(self) -> None:
        with self._lock:
            self._table = {}
            self._window = 0

    def _after_fork_in_child(self) -> None:
        # The parent's lock may have been held by another thread at the fork: never reuse it.
        self._lock = threading.Lock()
        self._table = {}
        self._window = 0


_local_leases = LocalLeases()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_local_leases._after_fork_in_child)


def forget_local_leases() -> None:
    """Drop this process's leased tokens (what a freshly started process holds: nothing)."""
    _local_leases.forget()


def add_to_counter(key: str, n: int) -> int:
    """Add n to the window's shared counter atomically and return the new total."""
    redis_client = _redis_client(key)
    if redis_client is not None:
        full_key = cache.make_and_validate_key(key)
        pipe = redis_client.pipeline(transaction=False)
        pipe.incrby(full_key, n)
        pipe.expire(full_key, WINDOW_SECONDS + 5)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    return cache.incr(key, n)


def count_request(key: str) -> int:
    """Add one to the window's counter and return the new count (the cost of one lease round trip)."""
    return add_to_counter(key, 1)


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
