"""Is a worker consuming the gpu queue? Asked before the job form offers Stable Diffusion.

One broadcast to the workers (`active_queues`, answered within a second) through a connection that gives up
after one try, so a broker that is down costs the form about a second, not a hang; the answer is kept for
30 seconds. Without a broker tasks run in the web process itself, which has no gpu worker.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from kaleido.queues import GPU_QUEUE

log = logging.getLogger(__name__)
CACHE_KEY, CACHE_S = "generation:gpu-workers", 30


def gpu_workers() -> list[str] | None:
    """Names of the workers consuming the gpu queue; None when there is no broker to ask."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or not getattr(settings, "CELERY_BROKER_URL", ""):
        return None
    cached = cache.get(CACHE_KEY)
    if cached is not None:
        return cached
    from kaleido.celery import app

    names: list[str] = []
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
            answers = app.control.inspect(timeout=1.0, connection=connection).active_queues() or {}
        names = sorted(w for w, queues in answers.items() if any(q.get("name") == GPU_QUEUE for q in queues or []))
    except Exception as exc:  # a broker that is down answers "no worker", never an error page
        log.info("gpu worker check failed: %s", exc)
    cache.set(CACHE_KEY, names, CACHE_S)
    return names


def gpu_status_text() -> str:
    workers = gpu_workers()
    if workers is None:
        return ("No task broker is configured: jobs run in the web process, where Stable Diffusion is slow; "
                "use Procedural here, or run a gpu worker with a broker.")
    if not workers:
        return ("No gpu worker is online right now: a Stable Diffusion job would wait in the queue until one "
                "starts. Procedural works without one.")
    return f"gpu worker(s) online: {', '.join(workers[:3])}. Stable Diffusion jobs start right away."
