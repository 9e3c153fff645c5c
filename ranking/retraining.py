"""Periodic retraining: which placements (and whether the general model) have gathered enough new data,
and retraining one of them. Dedicated and general models go through the same gate, never forced."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db.models import Max

from analytics import interaction_log
from creative.models import Placement

from . import services
from .gate import ActivationRefused
from .models import ModelVersion

log = logging.getLogger(__name__)


def placements_due(*, min_new: int) -> list[int]:
    """Placements with live variants and ≥ min_new impressions logged after their newest model's data."""
    last_data = dict(ModelVersion.objects.filter(scope=ModelVersion.Scope.DEDICATED)
                     .values("placement_id").annotate(last=Max("data_to")).values_list("placement_id", "last"))
    due = []
    for placement_id in Placement.objects.filter(variants__status="live").distinct().values_list("id", flat=True):
        new = interaction_log.impressions_count(placement_id=placement_id, decided_after=last_data.get(placement_id))
        if new >= min_new:
            due.append(placement_id)
    return due


def general_due(*, min_new: int) -> bool:
    """Whether ≥ min_new impressions, over every placement, were logged after the newest general model's data
    (or at all, when there is no general model yet)."""
    last = ModelVersion.objects.filter(scope=ModelVersion.Scope.GENERAL).aggregate(last=Max("data_to"))["last"]
    total = 0
    for placement_id in Placement.objects.filter(variants__status="live").distinct().values_list("id", flat=True):
        total += interaction_log.impressions_count(placement_id=placement_id, decided_after=last)
        if total >= min_new:
            return True
    return False


def retrain_placement(placement_id: int, *, algo: str = "auto", auto_activate: bool = True) -> dict[str, Any] | None:
    """Train a new dedicated model; activate it if it passes the activation gate (services.model_activate)
    with an AUC floor of KALEIDO_RETRAIN_MIN_AUC. Never forced: a refused candidate stays stored and the
    model serving now keeps serving.

    None when the placement is gone or there is not enough data yet; else the training summary.
    """
    placement = Placement.objects.filter(pk=placement_id).first()
    if placement is None:
        return None
    return _retrain(placement.slug, auto_activate=auto_activate, placement=placement, algo=algo)


def retrain_general(*, algo: str = "auto", auto_activate: bool = True) -> dict[str, Any] | None:
    """Train a new general model (every placement's rows, placement and surface features) and activate it
    only if it passes the same gate as a dedicated model, against the general model serving now."""
    return _retrain("the general model", auto_activate=auto_activate, general=True, algo=algo)


def _retrain(label: str, *, auto_activate: bool, **train_kwargs: Any) -> dict[str, Any] | None:
    try:
        result = services.train_model(**train_kwargs)
    except services.TrainingError as exc:
        log.info("retraining %s skipped: %s", label, exc)
        return None
    summary = result.summary()
    if auto_activate:
        try:
            services.model_activate(version=result.model_version, by="retraining",
                                    min_auc=settings.KALEIDO_RETRAIN_MIN_AUC)
            summary["activated"] = True
        except ActivationRefused as exc:
            log.info("retrained %s: %s", label, exc)
            summary["gate"] = exc.gate.as_dict()
    return summary
