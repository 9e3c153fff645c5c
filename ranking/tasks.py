"""Celery tasks: thin wrappers that call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from kaleido.queues import CPU_QUEUE

log = logging.getLogger(__name__)


@shared_task(queue=CPU_QUEUE, acks_late=True)
def train_placement_model(placement_id: int, algo: str = "lightgbm", auto_activate: bool = True) -> dict | None:
    from creative.models import Placement

    from . import services

    placement = Placement.objects.filter(pk=placement_id).first()
    if placement is None:
        return None
    try:
        result = services.train_model(placement=placement, algo=algo)
    except services.TrainingError as exc:
        log.info("retraining %s skipped: %s", placement.slug, exc)
        return None
    if auto_activate and result.auc is not None and result.auc >= settings.KALEIDO_RETRAIN_MIN_AUC:
        services.model_activate(version=result.model_version)
    return result.summary()


@shared_task(queue=CPU_QUEUE, acks_late=True)
def retrain_due_placements() -> list[int]:
    """Beat: queue a retrain for every placement with enough impressions since its last model's data."""
    from .retraining import placements_due

    due = placements_due(min_new=settings.KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS)
    for placement_id in due:
        transaction.on_commit(lambda pid=placement_id: train_placement_model.delay(pid))
    return due
