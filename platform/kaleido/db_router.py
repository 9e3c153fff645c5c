"""Report and dashboard reads from a read replica; every write, and everything else, on the primary.

A `replica` database alias is configured when DATABASE_REPLICA_URL is set (settings). Reads are sent
there only inside `replica_reads()`, which `ReplicaReadsMiddleware` enters for GET/HEAD requests to the
report, attribution and dashboard endpoints (KALEIDO_REPLICA_VIEWS), and only for the tables those
read (KALEIDO_REPLICA_APPS: analytics, ranking, creative, counters). Sessions, users and API keys stay
on the primary, so signing in or a revoked key is never behind by the replica's lag; a write inside such
a request (the embedded default's rollup refresh) goes to the primary as always.

Raw SQL through `django.db.connection` is the primary's connection: code that wants the replica for a
raw read asks `read_alias()` and uses `connections[read_alias()]`.

Without a replica alias the router answers None everywhere, which is Django's default behaviour.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest, HttpResponse

REPLICA_ALIAS = "replica"
_SAFE_METHODS = frozenset({"GET", "HEAD"})

_reading_from_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("kaleido_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA_ALIAS in settings.DATABASES


def read_alias() -> str:
    """The alias a report read should use now: the replica inside `replica_reads()` when one is set up."""
    return REPLICA_ALIAS if _reading_from_replica.get() and replica_configured() else DEFAULT_DB_ALIAS


@contextmanager
def replica_reads() -> Iterator[None]:
    """Send this block's ORM reads of report tables to the replica (a no-op without one)."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """This block reads the primary even inside `replica_reads()` (work that reads what it then writes)."""
    token = _reading_from_replica.set(False)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


class ReplicaRouter:
    """Django database router: report-table reads to the replica inside `replica_reads()`, writes never."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not (_reading_from_replica.get() and replica_configured()):
            return None
        if model._meta.app_label not in settings.KALEIDO_REPLICA_APPS:
            return None
        return REPLICA_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True  # the replica holds the primary's rows: an object read there relates to one from here

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return db != REPLICA_ALIAS  # the replica follows the primary's schema by replication


class ReplicaReadsMiddleware:
    """Enters `replica_reads()` for safe requests to the views named in KALEIDO_REPLICA_VIEWS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_kaleido_replica_token", None)
            if token is not None:
                _reading_from_replica.reset(token)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: Any, view_kwargs: Any) -> None:
        match = request.resolver_match
        if (request.method in _SAFE_METHODS and match is not None and replica_configured()
                and match.view_name in settings.KALEIDO_REPLICA_VIEWS):
            request._kaleido_replica_token = _reading_from_replica.set(True)  # type: ignore[attr-defined]
        return None
