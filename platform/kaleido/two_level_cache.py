"""A value kept in this process's memory for a few seconds, in front of Django's shared cache, in front of
the query or computation that makes it.

The hot paths read small things on every request (the active-model table, an API key, the ramps under
way): a local copy answers without a round trip, the shared cache (Redis in production) spares the
database when a process starts or its copy expires, and a cache outage only costs the computation,
never the request. Each use says how long a local copy is trusted, how long the shared one lives (or
that there is none), and optionally a `version`: a copy stored at another version is ignored in both
layers, which is how a serving version (ranking.serving_versions) retires a table at once instead of
waiting for its TTL.

`reset_all()` forgets every local copy in the process: what a freshly started process sees (the tests'
autouse fixture calls it; the shared layer is Django's cache, cleared on its own).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, overload

from django.core.cache import cache

log = logging.getLogger(__name__)

T = TypeVar("T")
Seconds = float | Callable[[], float]  # a callable is read on each use, so settings changed at run time apply

_every: weakref.WeakSet[TwoLevelCache] = weakref.WeakSet()


def _seconds(value: Seconds) -> float:
    return float(value() if callable(value) else value)


class TwoLevelCache(Generic[T]):
    """Values by key: this process's copy for `local_s`, then the shared cache for `shared_s` (None: no
    shared layer; a local_s of 0: no local layer). None is never cached: a compute that finds nothing
    is asked again next time. The local layer holds at most `max_local` keys (it starts afresh when full).
    """

    def __init__(self, name: str, *, local_s: Seconds, shared_s: Seconds | None, max_local: int = 1024) -> None:
        self.name = name
        self._local_s = local_s
        self._shared_s = shared_s
        self._max_local = max_local
        self._local: dict[str, tuple[float, Hashable, T]] = {}  # key -> (trusted until, version, value)
        _every.add(self)

    @overload
    def get_or_compute(self, key: str, compute: Callable[[], T], *, version: Hashable = None) -> T: ...

    @overload
    def get_or_compute(self, key: str, compute: Callable[[], T | None], *, version: Hashable = None) -> T | None: ...

    def get_or_compute(self, key: str, compute: Callable[[], T | None], *, version: Hashable = None) -> T | None:
        """The value for `key` at `version`: from this process, else the shared cache, else `compute()`
        (stored in both layers unless it returns None)."""
        now = time.monotonic()
        entry = self._local.get(key)
        if entry is not None and entry[0] > now and entry[1] == version:
            return entry[2]
        value = self._shared_get(key, version)
        if value is None:
            value = compute()
            if value is None:
                return None
            self.share(key, value, version=version)
        self._remember(key, value, version, now)
        return value

    def share(self, key: str, value: T, *, version: Hashable = None) -> None:
        """Store a newer value in the shared layer only (this process's copy already is that object, and
        re-trusting it locally would delay what other processes change)."""
        if self._shared_s is None:
            return
        stored = value if version is None else (version, value)
        try:
            cache.set(key, stored, timeout=_seconds(self._shared_s))
        except Exception:  # a cache outage only costs the computation
            log.debug("%s: %s not stored in the shared cache", self.name, key, exc_info=True)

    def invalidate(self, key: str) -> None:
        """Forget `key` here and in the shared cache (other processes' copies expire within local_s)."""
        self._local.pop(key, None)
        if self._shared_s is None:
            return
        try:
            cache.delete(key)
        except Exception:  # the shared copy expires on its own within shared_s
            log.debug("%s: %s not deleted from the shared cache", self.name, key, exc_info=True)

    def forget_local(self, key: str | None = None) -> None:
        """Forget this process's copy of `key` (of every key if None); the shared layer is left alone."""
        if key is None:
            self._local.clear()
        else:
            self._local.pop(key, None)

    def _shared_get(self, key: str, version: Hashable) -> T | None:
        if self._shared_s is None:
            return None
        try:
            stored = cache.get(key)
        except Exception:  # a cache outage must not stop the caller
            log.debug("%s: shared cache unreadable for %s", self.name, key, exc_info=True)
            return None
        if version is None:
            return stored
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version:
            return stored[1]
        return None  # absent, or stored at another version: stale

    def _remember(self, key: str, value: T, version: Hashable, now: float) -> None:
        local_s = _seconds(self._local_s)
        if local_s <= 0:
            return
        if key not in self._local and len(self._local) >= self._max_local:
            self._local.clear()
        self._local[key] = (now + local_s, version, value)


def reset_all() -> None:
    """Forget every local copy in this process (what a freshly started process holds: nothing)."""
    for two_level in list(_every):
        two_level.forget_local()
