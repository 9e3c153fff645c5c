"""Celery tasks: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from kaleido.queues import CPU_QUEUE


@shared_task(queue=CPU_QUEUE, acks_late=True)
def train_placement_model(placement_id: int, algo: str = "auto", auto_activate: bool = True) -> dict | None:
    from .retraining import retrain_placement

    return retrain_placement(placement_id, algo=algo, auto_activate=auto_activate)


@shared_task(queue=CPU_QUEUE, acks_late=True)
def train_general_model(algo: str = "auto", auto_activate: bool = True) -> dict | None:
    from .retraining import retrain_general

    return retrain_general(algo=algo, auto_activate=auto_activate)


@shared_task(queue=CPU_QUEUE, acks_late=True)
def retrain_due_placements() -> list[int]:
    """Beat: queue a retrain for every placement with enough impressions since its last model's data, and
    for the general model when every placement's new impressions together reach the same threshold."""
    from .retraining import general_due, placements_due

    due = placements_due(min_new=settings.KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS)
    for placement_id in due:
        transaction.on_commit(lambda pid=placement_id: train_placement_model.delay(pid))
    if general_due(min_new=settings.KALEIDO_RETRAIN_MIN_NEW_IMPRESSIONS):
        transaction.on_commit(train_general_model.delay)
    return due


@shared_task(queue=CPU_QUEUE)
def evaluate_rollouts() -> list[dict]:
    """Beat: check every model ramp under way; advance, complete or roll back each as its guardrails say."""
    from .rollout import evaluate_ramping

    return [check.as_dict() for check in evaluate_ramping()]


@shared_task(queue=CPU_QUEUE)
def check_experiment_splits() -> list[dict]:
    """Beat: the sample-ratio check of every running experiment (read by /metrics, alarms logged)."""
    from dataclasses import asdict

    from .split_health import check_running_experiments

    return [asdict(h) for h in check_running_experiments()]
