"""Liveness and readiness, for load balancers, orchestrators and the compose file.

- `/healthz`: the process answers. No dependency is touched, so a database outage never gets a healthy
  web process restarted.
- `/readyz`: whether this process should be sent traffic now. Each check says `ok`, `degraded`
  (serving works, worse: e.g. no cache, so rate limits are per process) or `failed` (do not route here):

  | check | failed when | degraded when |
  | --- | --- | --- |
  | database | `SELECT 1` fails | |
  | migrations | a migration is not applied | |
  | cache | | a set/get round trip fails |
  | models | an active model is still loading (the probe starts the load, so it warms the process) | an active model's artefact cannot load (rank serves control) |
  | decision_journal | journal mode and its folder is not writable (rank would write each decision directly) | |

  200 when nothing failed, else 503; the body lists every check either way. Both answer without
  authentication and say nothing about users, keys or data.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

OK, DEGRADED, FAILED = "ok", "degraded", "failed"

_migrations_applied = False  # once true in a process it stays true: migrations are not rolled back live


@never_cache
@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": OK})


@never_cache
@require_GET
def readyz(request) -> JsonResponse:
    checks = readiness_checks()
    failed = any(c["status"] == FAILED for c in checks.values())
    degraded = any(c["status"] == DEGRADED for c in checks.values())
    status = FAILED if failed else DEGRADED if degraded else OK
    return JsonResponse({"status": status, "checks": checks}, status=503 if failed else 200)


def readiness_checks() -> dict[str, dict[str, Any]]:
    checks = {"database": _check_database()}
    database_up = checks["database"]["status"] == OK
    checks["migrations"] = _check_migrations() if database_up else _skipped("the database is unreachable")
    checks["cache"] = _check_cache()
    checks["models"] = _check_models() if database_up else _skipped("the database is unreachable")
    checks["decision_journal"] = _check_journal()
    return checks


def _skipped(why: str) -> dict[str, Any]:
    return {"status": FAILED, "detail": f"not checked: {why}"}


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        with contextlib.suppress(Exception):
            connection.close()  # the next request reconnects
        return {"status": FAILED, "detail": type(exc).__name__}
    return {"status": OK, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_migrations() -> dict[str, Any]:
    global _migrations_applied
    if _migrations_applied:
        return {"status": OK}
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return {"status": FAILED, "detail": type(exc).__name__}
    if pending:
        names = [f"{m.app_label}.{m.name}" for m, _ in pending[:5]]
        return {"status": FAILED, "detail": f"{len(pending)} migrations not applied", "pending": names}
    _migrations_applied = True
    return {"status": OK}


def _check_cache() -> dict[str, Any]:
    key = f"kaleido:readyz:{os.getpid()}"
    try:
        cache.set(key, "1", timeout=10)
        if cache.get(key) != "1":
            return {"status": DEGRADED, "detail": "the cache did not return what was stored"}
    except Exception as exc:
        return {"status": DEGRADED, "detail": f"{type(exc).__name__}; rank serves without the shared cache"}
    return {"status": OK, "backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _check_models() -> dict[str, Any]:
    from ranking import registry
    from ranking.models import ModelVersion

    versions = list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True))
    loading, unavailable = [], {}
    for version in versions:
        try:
            registry.get_model(version, wait_s=0)
        except registry.ModelUnavailable as exc:
            if exc.reason == "model_loading":
                loading.append(version)
            else:
                unavailable[version] = exc.reason
    if loading:
        return {"status": FAILED, "detail": "active models still loading", "loading": loading}
    if unavailable:
        return {"status": DEGRADED, "detail": "active models that cannot load; rank serves control for them",
                "unavailable": unavailable}
    return {"status": OK, "active": len(versions)}


def _check_journal() -> dict[str, Any]:
    if settings.KALEIDO_DECISION_LOG != "journal":
        return {"status": OK, "mode": settings.KALEIDO_DECISION_LOG}
    folder = Path(settings.KALEIDO_DECISION_JOURNAL_DIR)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-", suffix=".probe"):
            pass
    except OSError as exc:
        return {"status": FAILED, "mode": "journal", "detail": f"{folder} is not writable: {exc.strerror}"}
    return {"status": OK, "mode": "journal"}
