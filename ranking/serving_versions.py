"""How a change to what serves reaches every serving process within about a second, with or without Redis.

A change made anywhere (an admin action, a management command such as start_experiment or
activate_model, a Celery worker) bumps a counter row in `ranking_servingversion` once its transaction
commits: `placement:<id>` for a placement's catalogue, `models` for the active-model table. Each
process reads the whole table (a few rows) at most every KALEIDO_RANK_LOCAL_CHECK_S seconds and
reloads what changed; that is one small query per process per second, whatever the traffic, and it
works on the embedded default, where Django's cache is per process and could not carry the news.

Failure modes: a bump that fails (the database went away right after the commit) is logged, and
the catalogue's KALEIDO_RANK_CATALOGUE_TTL still bounds how long the change waits; a read that fails
keeps the versions this process knows and tries again after that TTL, so a database outage costs
serving at most one failed query per process per TTL. Bulk updates that skip model signals rely on
the TTL alone.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from .models import ServingVersion

log = logging.getLogger(__name__)
MODELS = "models"

_lock = threading.Lock()
_memo: list = [0.0, {}]  # [re-read after (monotonic), {scope: version}]


def placement_scope(placement_id: int) -> str:
    return f"placement:{placement_id}"


def current(scope: str) -> int:
    """The scope's version as this process last read it (re-read at most every KALEIDO_RANK_LOCAL_CHECK_S)."""
    now = time.monotonic()
    if _memo[0] <= now:
        with _lock:
            if _memo[0] <= now:
                _refresh(now)
    return _memo[1].get(scope, 0)


def _refresh(now: float) -> None:
    try:
        table = dict(ServingVersion.objects.values_list("scope", "version"))
    except DatabaseError:
        log.warning("serving versions unreadable; keeping this process's copy for %ss",
                    settings.KALEIDO_RANK_CATALOGUE_TTL, exc_info=True)
        _memo[0] = now + settings.KALEIDO_RANK_CATALOGUE_TTL
        return
    _memo[:] = [now + settings.KALEIDO_RANK_LOCAL_CHECK_S, table]


def bump(scope: str) -> None:
    """Tell every process that `scope` changed: now outside a transaction, else once it commits."""
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _bump_now(scope))
    else:
        _bump_now(scope)


def _bump_now(scope: str) -> None:
    try:
        if not ServingVersion.objects.filter(scope=scope).update(version=F("version") + 1):
            _, created = ServingVersion.objects.get_or_create(scope=scope, defaults={"version": 1})
            if not created:  # another process created it meanwhile
                ServingVersion.objects.filter(scope=scope).update(version=F("version") + 1)
    except DatabaseError:
        log.warning("could not bump serving version %s; other processes see the change within %ss",
                    scope, settings.KALEIDO_RANK_CATALOGUE_TTL, exc_info=True)
    _memo[0] = 0.0  # this process reads the new versions on its next request


def forget() -> None:
    """Forget what this process read (what a freshly started process sees)."""
    _memo[:] = [0.0, {}]
