"""The ranking area's facade: what views, commands, tasks and other areas call."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from creative.models import Placement, StyleVariant
from creative.selectors import placement_by_slug_or_none

from . import decision_log, gate, registry, serving, training
from . import features as F
from .buckets import parse_buckets
from .features import row_features  # noqa: F401 - part of the facade: the ranker's flat feature map
from .models import Experiment, ModelVersion
from .registry import ModelUnavailable  # noqa: F401 - part of the facade
from .rollout import cancel_rollout, rollout_summary, start_rollout  # noqa: F401 - part of the facade
from .serving import NoLiveVariant, RankResult, UnknownPlacement  # noqa: F401 - part of the facade
from .training import TrainingError, TrainResult, calibration_curve  # noqa: F401 - part of the facade


def rank_variants(*, placement: Placement | str, user_id: str, features: Mapping[str, Any] | None = None,
                  k: int = 1, context: Mapping[str, Any] | None = None) -> RankResult:
    """Rank a placement's live variants for one user and log the decision. See serving.rank."""
    slug = placement.slug if isinstance(placement, Placement) else placement
    return serving.rank(placement=slug, user_id=str(user_id), features=dict(features or {}), k=k,
                        context=dict(context or {}))


def train_model(*, placement: Placement | None = None, algo: str = "auto", activate: bool = False,
                general: bool = False, use_variant_id: bool = False, force: bool = False, by: str = "",
                click_window_s: float | None = None) -> TrainResult:
    """Train a ranker on logged decisions ⨝ events, register it, and with `activate` make it the active one
    if it passes the activation gate (model_activate); the result says whether it did and why not.

    placement=None (or general=True) trains the general model on every placement's data.
    """
    decision_log.flush_journal()  # decisions this process journaled are training rows too
    mv = training.train(placement=placement, algo=algo, general=general, use_variant_id=use_variant_id,
                        click_window_s=click_window_s)
    verdict = gate.check(mv)
    if activate:
        try:
            mv = model_activate(version=mv.version, force=force, by=by or "train_model")
        except gate.ActivationRefused as exc:
            verdict = exc.gate
    return TrainResult(
        model_version=mv.version, algo=mv.algo, scope=mv.scope,
        placement=mv.placement.slug if mv.placement_id else None, rows=mv.rows,
        positive_rate=mv.positive_rate or 0.0, auc=mv.auc, logloss=mv.logloss,
        calibration_error=mv.calibration_error, train_seconds=mv.train_seconds, activated=mv.is_active,
        gate={**verdict.as_dict(), "forced": bool(force and not verdict.passed and mv.is_active)},
    )


def active_model_version(placement: Placement | None) -> str | None:
    """The version serving `placement` (its dedicated model, else the general one); None if none."""
    if placement is None:
        return ModelVersion.objects.filter(is_active=True, scope=ModelVersion.Scope.GENERAL) \
            .values_list("version", flat=True).first()
    return registry.active_version_for(placement.id)


def model_activate(*, version: str, force: bool = False, by: str = "", min_auc: float = 0.5) -> ModelVersion:
    """Make `version` serve its scope if it passes the activation gate (ranking.gate); the one function every
    activation path calls (train_ranker --activate, activate_model, the admin action, the dashboard button,
    periodic retraining).

    Raises gate.ActivationRefused (a ValidationError on "version", with the reasons) when it fails and
    `force` is not set; a forced activation is recorded in the version's activation log with who forced
    it and the gate's numbers. Raises ModelVersion.DoesNotExist for an unknown version.
    """
    candidate = ModelVersion.objects.get(version=version)
    if candidate.is_active:  # it serves already: activating it again changes nothing, so nothing to judge
        return candidate
    verdict = gate.check(candidate, min_auc=min_auc)
    if not verdict.passed and not force:
        raise gate.ActivationRefused(version, verdict)
    with transaction.atomic():
        mv = registry.activate(version=version)
        entry = {"at": timezone.now().isoformat(), "by": by, "forced": not verdict.passed,
                 "gate": verdict.as_dict()}
        mv.params = {**(mv.params or {}), "activations": [*(mv.params or {}).get("activations", []), entry]}
        mv.save(update_fields=["params"])
    return mv


def model_rollback(*, placement: Placement | None = None, to_version: str | None = None) -> ModelVersion:
    """Back to `to_version`, or to the version active before the current one (placement None = general).

    A version that has served before goes back without the gate (rolling back must work in an emergency);
    a `to_version` that never served is an activation and goes through model_activate's gate.
    """
    if to_version is not None and not ModelVersion.objects.filter(version=to_version,
                                                                  activated_at__isnull=False).exists():
        return model_activate(version=to_version, by="rollback")
    return registry.rollback(placement=placement, to_version=to_version)


def _rows_for(model: registry.LoadedModel, user_features, variants: Sequence[StyleVariant], positions):
    n = len(variants)
    if isinstance(user_features, Mapping):
        user_features = [user_features]
    if len(user_features) not in (1, n):
        raise ValueError("user_features must be one dict or one per variant.")
    users = F.user_codes(model.spec, [dict(u) for u in user_features])
    if len(users) == 1:
        users = np.repeat(users, n, axis=0)
    tags = F.tag_matrix(model.spec, [v.tags for v in variants])
    codes = F.variant_codes(model.spec, [v.id for v in variants])
    if positions is None:
        pos = np.ones(n)
    else:
        pos = np.broadcast_to(np.asarray(positions, dtype=float), (n,)).copy()
    return users, tags, codes, pos


def score_variants(*, model_version: str, user_features: list[dict] | dict, variants: list[StyleVariant],
                   positions: Sequence[int] | int | None = None) -> np.ndarray:
    """Click probabilities from any registered version (active or not), e.g. for off-policy evaluation.

    One dict of user features is scored against every variant; a list is paired with `variants`
    row by row. Features use the same flat map as training (context keys prefixed `ctx.`).
    Raises registry.ModelUnavailable if the artefact is missing or corrupt.
    """
    model = registry.model_for_analysis(model_version)  # never evicts a serving model
    users, tags, codes, pos = _rows_for(model, user_features, variants, positions)
    return model.predict(users=users, tags=tags, vcodes=codes, positions=pos)


SCORE_CHUNK = 250_000  # rows per predict call: bounds memory for large evaluations


def score_matrix(*, model_version: str, user_features: Sequence[Mapping[str, Any]],
                 variants: Sequence[StyleVariant]) -> np.ndarray:
    """Click probability at position 1 of every (user, variant) pair: shape (len(user_features), len(variants)).

    For off-policy evaluation and other batch work: each feature map and each variant is encoded once
    and the cross product is predicted in chunks, instead of encoding every pair again as a loop over
    `score_variants` would. Raises registry.ModelUnavailable if the artefact is missing or corrupt.
    """
    model = registry.model_for_analysis(model_version)  # never evicts a serving model
    n, v = len(user_features), len(variants)
    out = np.empty((n, v))
    if not n or not v:
        return out
    users = F.user_codes(model.spec, [dict(u) for u in user_features])
    tags = F.tag_matrix(model.spec, [variant.tags for variant in variants])
    codes = F.variant_codes(model.spec, [variant.id for variant in variants])
    per_chunk = max(1, SCORE_CHUNK // v)
    for start in range(0, n, per_chunk):
        block = users[start:start + per_chunk]
        m = len(block)
        out[start:start + m] = np.asarray(model.predict(
            users=np.repeat(block, v, axis=0), tags=np.tile(tags, (m, 1)),
            vcodes=np.tile(codes, m), positions=np.ones(m * v)), dtype=float).reshape(m, v)
    return out


def feature_contributions(*, model_version: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Per-feature contributions on the log-odds scale (LightGBM pred_contrib), one dict per row.

    Each row: {"features": {...}, "variant": StyleVariant} or {"features": {...}, "tags": {...}},
    optional "position". Keys of the answer are feature names (`age`, `tag:button_color=blue`, …) and "bias".
    """
    model = registry.model_for_analysis(model_version)  # never evicts a serving model
    users = F.user_codes(model.spec, [dict(r.get("features") or {}) for r in rows])
    tags = F.tag_matrix(model.spec, [r["variant"].tags if r.get("variant") is not None else r.get("tags")
                                     for r in rows])
    codes = F.variant_codes(model.spec, [r["variant"].id if r.get("variant") is not None else r.get("variant_id")
                                         for r in rows])
    pos = np.array([float(r.get("position") or 1) for r in rows])
    names, values = model.contributions(users=users, tags=tags, vcodes=codes, positions=pos)
    return [dict(zip(names, map(float, row), strict=True)) for row in values]


@transaction.atomic
def experiment_start(*, slug: str, placement: Placement | str, buckets: str | Mapping[str, float]) -> Experiment:
    """Start an A/B experiment; a placement runs at most one at a time."""
    if isinstance(placement, str):
        found = placement_by_slug_or_none(placement)
        if found is None:
            raise ValidationError({"placement": f"Unknown placement '{placement}'."})
        placement = found
    shares = parse_buckets(buckets)
    if Experiment.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"An experiment named '{slug}' already exists."})
    running = Experiment.objects.filter(placement=placement, status=Experiment.Status.RUNNING).first()
    if running is not None:
        raise ValidationError({"placement": f"'{placement.slug}' already runs experiment '{running.slug}'."})
    try:  # the save's signal drops the placement's serving catalogue (ranking.signals)
        with transaction.atomic():
            experiment = Experiment.objects.create(slug=slug, placement=placement, buckets=shares,
                                                   salt=secrets.token_hex(8))
    except IntegrityError as exc:  # a concurrent start on the same placement
        raise ValidationError({"placement": f"'{placement.slug}' already runs an experiment."}) from exc
    return experiment


@transaction.atomic
def experiment_stop(*, slug: str) -> Experiment:
    experiment = Experiment.objects.select_for_update().filter(slug=slug).first()
    if experiment is None:
        raise ValidationError({"slug": f"No experiment named '{slug}'."})
    if experiment.status != Experiment.Status.STOPPED:
        experiment.status = Experiment.Status.STOPPED
        experiment.stopped_at = timezone.now()
        experiment.save(update_fields=["status", "stopped_at"])  # its signal drops the catalogue
    return experiment


def variant_effect_prior(model_version: str) -> float | None:
    """The prior sd of a variant's own effect that a model states (`variant_effect_sd`), where Thompson's
    posterior starts for it; None for a model that states none."""
    spec = ModelVersion.objects.filter(version=model_version).values_list("feature_spec", flat=True).first()
    value = (spec or {}).get("variant_effect_sd")
    return float(value) if value is not None else None
