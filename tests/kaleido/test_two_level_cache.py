"""A hot path reads a small table through a local copy and the shared cache, and falls back to the source."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from kaleido.two_level_cache import TwoLevelCache, reset_all


@pytest.fixture
def later(monkeypatch):
    """Move this process's clock forward (the local layer trusts a copy for so many monotonic seconds)."""
    offset = [0.0]
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


class Source:
    """The table behind the cache: counts how often it is read."""

    def __init__(self, value):
        self.value, self.reads = value, 0

    def __call__(self):
        self.reads += 1
        return self.value


def test_a_copy_is_local_for_its_seconds_then_shared_then_read_again_once_invalidated(later):
    tables = TwoLevelCache("test tables", local_s=1.0, shared_s=60)
    source = Source({"general": "v1"})

    assert tables.get_or_compute("test:table", source) == {"general": "v1"}
    assert tables.get_or_compute("test:table", source) == {"general": "v1"}
    assert source.reads == 1 and cache.get("test:table") == {"general": "v1"}

    later(1.1)  # the local copy expired: the shared one answers, the source is not read
    source.value = {"general": "v2"}
    assert tables.get_or_compute("test:table", source) == {"general": "v1"} and source.reads == 1

    tables.invalidate("test:table")  # both layers: the next read goes to the source
    assert tables.get_or_compute("test:table", source) == {"general": "v2"} and source.reads == 2


def test_a_copy_stored_at_another_version_is_ignored_in_both_layers():
    tables = TwoLevelCache("test tables", local_s=60, shared_s=60)
    source = Source("read at 1")
    assert tables.get_or_compute("test:versioned", source, version=1) == "read at 1"

    source.value = "read at 2"
    assert tables.get_or_compute("test:versioned", source, version=2) == "read at 2"
    assert source.reads == 2
    assert cache.get("test:versioned") == (2, "read at 2")

    tables.forget_local()  # another process at version 2 finds the shared copy
    assert tables.get_or_compute("test:versioned", source, version=2) == "read at 2" and source.reads == 2


def test_nothing_found_is_not_cached_and_a_shared_only_cache_keeps_no_local_copy():
    keys = TwoLevelCache("test keys", local_s=60, shared_s=60)
    missing = Source(None)
    assert keys.get_or_compute("test:key", missing) is None
    assert keys.get_or_compute("test:key", missing) is None
    assert missing.reads == 2  # a key created meanwhile is found on the next call

    analyses = TwoLevelCache("test analyses", local_s=0, shared_s=60)
    analysis = Source({"findings": []})
    analyses.get_or_compute("test:analysis", analysis)
    cache.delete("test:analysis")
    analyses.get_or_compute("test:analysis", analysis)
    assert analysis.reads == 2  # no local copy kept it


def test_reset_all_forgets_every_local_copy_but_not_the_shared_ones():
    first, second = TwoLevelCache("test a", local_s=60, shared_s=None), TwoLevelCache("test b", local_s=60, shared_s=60)
    source = Source("value")
    first.get_or_compute("test:a", source)
    second.get_or_compute("test:b", source)
    assert source.reads == 2

    reset_all()

    first.get_or_compute("test:a", source)  # local only: read again
    second.get_or_compute("test:b", source)  # the shared copy answers
    assert source.reads == 3


def test_a_cache_outage_costs_the_computation_not_the_answer(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/7",  # nothing listens on port 9
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    tables = TwoLevelCache("test outage", local_s=60, shared_s=60)
    source = Source("from the source")

    assert tables.get_or_compute("test:outage", source) == "from the source"
    assert tables.get_or_compute("test:outage", source) == "from the source" and source.reads == 1  # local
    tables.invalidate("test:outage")
    assert tables.get_or_compute("test:outage", source) == "from the source" and source.reads == 2
