"""Celery tasks of the analytics area: thin wrappers that call one service each (cpu queue)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from kaleido.queues import CPU_QUEUE


@shared_task(queue=CPU_QUEUE, acks_late=True, autoretry_for=(OperationalError,), max_retries=3,
             retry_backoff=True)
def refresh_rollups_task() -> int:
    from .rollups import refresh_rollups

    return refresh_rollups()


@shared_task(queue=CPU_QUEUE, acks_late=True, autoretry_for=(OperationalError,), max_retries=3,
             retry_backoff=True)
def maintain_partitions_task() -> list[str]:
    from .partitions import ensure_upcoming_partitions

    return [day.isoformat() for day in ensure_upcoming_partitions()]


@shared_task(queue=CPU_QUEUE, acks_late=True, autoretry_for=(OperationalError,), max_retries=2,
             retry_backoff=True)
def explain_placement_task(placement_id: int) -> None:
    from .explain import explanation_compute

    explanation_compute(placement_id=placement_id)


@shared_task(queue=CPU_QUEUE, acks_late=True, autoretry_for=(OperationalError,), max_retries=2,
             retry_backoff=True)
def refresh_attribution_snapshots_task() -> list[int]:
    """On beat: one snapshot job per placement whose prepared attribution answers are due."""
    from .attribution_snapshots import placements_due

    due = placements_due()
    for placement_id in due:
        attribution_snapshot_task.delay(placement_id)
    return due


@shared_task(queue=CPU_QUEUE, acks_late=True, autoretry_for=(OperationalError,), max_retries=2,
             retry_backoff=True)
def attribution_snapshot_task(placement_id: int) -> bool:
    from .attribution_snapshots import refresh_placement

    return refresh_placement(placement_id=placement_id)
