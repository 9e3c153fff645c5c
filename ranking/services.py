"""The ranking area's facade: what views, commands, tasks and other areas call.

Other apps never get ranking's ORM rows: what they read comes as frozen dataclasses (`ExperimentInfo`,
`ModelVersionInfo`, `RolloutInfo`, `TargetPolicy`), every lookup by name raises the one `UnknownRecord`
(or returns None), and the changes they make (the dashboard's model actions, creative's "train a model
now") go through the functions of "For the other apps" below. `model_activate`, `model_rollback`,
`experiment_start` and `experiment_stop` return ranking's own rows, for ranking's admin and commands.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from creative.models import Placement, StyleVariant
from creative.selectors import placement_by_slug_or_none

from . import decision_log, gate, registry, serving, training
from . import features as F
from . import policy as P
from . import rollout as R
from .buckets import parse_buckets
from .features import row_features  # noqa: F401 - part of the facade: the ranker's flat feature map
from .models import Experiment, ModelRollout, ModelVersion
from .registry import ModelUnavailable  # noqa: F401 - part of the facade
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
def experiment_start(*, slug: str, placement: Placement | str, buckets: str | Mapping[str, float],
                     salt: str | None = None) -> Experiment:
    """Start an A/B experiment; a placement runs at most one at a time. `salt` (default: a random one) is
    hashed with each user id to assign buckets: give one to repeat an earlier split of the same users."""
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
                                                   salt=salt or secrets.token_hex(8))
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


# --- For the other apps: typed answers, never ORM rows ------------------------------------------------------
# Analytics' reports and dashboard, and creative's placement page, read and change ranking through these.

class UnknownRecord(LookupError):
    """No experiment, model version or rollout by that name: the one error every lookup below raises.
    `str(exc)` says which in words ("No experiment named 'x'."), for a 404 or a CommandError."""


# The stored values of ranking's choices, for serializers that describe the dataclasses' fields.
EXPERIMENT_STATUSES = Experiment.Status.choices
MODEL_SCOPES = ModelVersion.Scope.choices
MODEL_ALGOS = ModelVersion.Algo.choices


@dataclass(frozen=True)
class ExperimentInfo:
    """An A/B experiment as other apps read it (ranking.models.Experiment, without the salt)."""

    id: int  # noqa: A003 - the row's id, which rollups and decisions name
    slug: str
    placement_id: int
    placement: str  # the placement's slug
    buckets: dict[str, float]  # bucket -> configured share, as stored (shares sum to 1)
    status: str  # "running" or "stopped" (EXPERIMENT_STATUSES)
    started_at: datetime
    stopped_at: datetime | None

    @classmethod
    def of(cls, row: Experiment) -> ExperimentInfo:
        return cls(id=row.pk, slug=row.slug, placement_id=row.placement_id, placement=row.placement.slug,
                   buckets=dict(row.buckets or {}), status=str(row.status), started_at=row.started_at,
                   stopped_at=row.stopped_at)


def experiment_info(row: Experiment) -> ExperimentInfo:
    """The dataclass of one of ranking's own rows (for ranking's admin, which holds the row)."""
    return ExperimentInfo.of(row)


def experiment_by_slug_or_none(slug: str) -> ExperimentInfo | None:
    row = Experiment.objects.select_related("placement").filter(slug=slug).first()
    return ExperimentInfo.of(row) if row is not None else None


def experiment_by_slug(slug: str) -> ExperimentInfo:
    """Raises UnknownRecord ("No experiment named 'x'.")."""
    found = experiment_by_slug_or_none(slug)
    if found is None:
        raise UnknownRecord(f"No experiment named '{slug}'.")
    return found


def experiments() -> list[ExperimentInfo]:
    """Every experiment, newest first."""
    rows = Experiment.objects.select_related("placement").order_by("-started_at")
    return [ExperimentInfo.of(row) for row in rows]


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registry entry as other apps read it: what it was trained on and how good it is."""

    version: str
    placement_id: int | None  # None for a general model
    placement: str | None  # its placement's slug
    scope: str  # "dedicated" or "general" (MODEL_SCOPES)
    algo: str  # MODEL_ALGOS
    rows: int
    positive_rate: float | None
    auc: float | None  # on the time-ordered holdout
    logloss: float | None
    calibration_error: float | None
    train_seconds: float
    is_active: bool
    activated_at: datetime | None  # its latest activation; None if it never served
    created_at: datetime
    data_from: datetime | None  # the training window
    data_to: datetime | None
    holdout_calibration: list[dict[str, Any]] | None  # the holdout's curve; None for versions trained before it was kept

    @classmethod
    def of(cls, row: ModelVersion) -> ModelVersionInfo:
        return cls(version=row.version, placement_id=row.placement_id,
                   placement=row.placement.slug if row.placement_id else None, scope=str(row.scope),
                   algo=str(row.algo), rows=row.rows, positive_rate=row.positive_rate, auc=row.auc,
                   logloss=row.logloss, calibration_error=row.calibration_error, train_seconds=row.train_seconds,
                   is_active=row.is_active, activated_at=row.activated_at, created_at=row.created_at,
                   data_from=row.data_from, data_to=row.data_to,
                   holdout_calibration=(row.params or {}).get("calibration"))


def model_version_or_none(version: str) -> ModelVersionInfo | None:
    row = ModelVersion.objects.select_related("placement").filter(version=version).first()
    return ModelVersionInfo.of(row) if row is not None else None


def model_version_info(version: str) -> ModelVersionInfo:
    """Raises UnknownRecord ("No model version 'x'.")."""
    found = model_version_or_none(version)
    if found is None:
        raise UnknownRecord(f"No model version '{version}'.")
    return found


def model_versions(*, placement: Placement | None = None) -> list[ModelVersionInfo]:
    """Registry entries, newest first; for a placement, its dedicated models and the general ones."""
    rows = ModelVersion.objects.select_related("placement").order_by("-created_at", "-id")
    if placement is not None:
        rows = rows.filter(placement=placement) | rows.filter(scope=ModelVersion.Scope.GENERAL)
    return [ModelVersionInfo.of(row) for row in rows]


def serving_window(model: ModelVersionInfo) -> tuple[datetime, datetime | None] | None:
    """(since, until) of a version's latest stint serving its placement (or the general scope): from its
    activation to the next version's activation (None: it still serves); None for one that never served."""
    if model.activated_at is None:
        return None
    peers = ModelVersion.objects.filter(activated_at__gt=model.activated_at).exclude(version=model.version)
    peers = peers.filter(placement_id=model.placement_id) if model.placement_id else peers.filter(
        scope=ModelVersion.Scope.GENERAL)
    following = peers.order_by("activated_at").values_list("activated_at", flat=True).first()
    return model.activated_at, following


def activate_version(*, version: str, force: bool = False, by: str = "") -> ModelVersionInfo:
    """model_activate for the other apps: the version after activation. Raises UnknownRecord for an unknown
    version and gate.ActivationRefused (a ValidationError on "version") when the gate refuses it."""
    try:
        return ModelVersionInfo.of(model_activate(version=version, force=force, by=by))
    except ModelVersion.DoesNotExist as exc:
        raise UnknownRecord(f"No model version '{version}'.") from exc


def roll_back(*, placement: Placement | None = None) -> ModelVersionInfo:
    """model_rollback for the other apps: the version that serves again (placement None: the general model).
    Raises UnknownRecord when no earlier version served."""
    try:
        return ModelVersionInfo.of(model_rollback(placement=placement))
    except ModelVersion.DoesNotExist as exc:
        raise UnknownRecord(str(exc) or "No earlier activated version to roll back to.") from exc


@dataclass(frozen=True)
class RolloutInfo:
    """Where a gradual release stands (ranking.rollout.rollout_summary's fields; times in ISO 8601, as the
    admin and `rollout_model` print them)."""

    id: int  # noqa: A003 - the ramp's id, which cancelling names
    kind: str  # "model" or "variants"
    placement: str
    candidate: str | None  # the model ramped; None for a variant ramp
    variant_ids: list[int]
    incumbent: str | None  # None: no model served, the control design did
    status: str  # ramping, completed, rolled_back, cancelled
    steps: list[float]
    step: int
    share: float  # the candidate's share of the model bucket's users now (0 once ended)
    min_dwell_s: int
    min_impressions: int
    started_at: str
    step_started_at: str
    finished_at: str | None
    started_by: str
    reason: str
    last_check: dict[str, Any] | None
    history: list[dict[str, Any]]

    @classmethod
    def of(cls, row: ModelRollout) -> RolloutInfo:
        return cls(**R.rollout_summary(row))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rollouts(*, placement: Placement | None = None, limit: int = 20) -> list[RolloutInfo]:
    """Ramps, newest first, at most `limit`; of one placement or of all."""
    rows = ModelRollout.objects.select_related("placement", "candidate", "incumbent")
    if placement is not None:
        rows = rows.filter(placement=placement)
    return [RolloutInfo.of(row) for row in rows[:limit]]


def start_model_rollout(*, version: str, by: str = "", steps: Any = None, min_dwell_s: int | None = None,
                        min_impressions: int | None = None, force: bool = False) -> RolloutInfo:
    """rollout.start_rollout for the other apps. Raises UnknownRecord for an unknown version,
    gate.ActivationRefused when the gate refuses it, ValidationError for a version that cannot ramp."""
    try:
        row = R.start_rollout(version=version, steps=steps, min_dwell_s=min_dwell_s,
                              min_impressions=min_impressions, force=force, by=by)
    except ModelVersion.DoesNotExist as exc:
        raise UnknownRecord(f"No model version '{version}'.") from exc
    return RolloutInfo.of(row)


def cancel_model_rollout(*, rollout_id: int, by: str = "") -> RolloutInfo:
    """Stop a ramp under way (the incumbent serves everyone again). Raises UnknownRecord for an unknown
    ramp, ValidationError on "rollout" for one that has already ended."""
    row = ModelRollout.objects.select_related("placement", "candidate", "incumbent").filter(pk=rollout_id).first()
    if row is None:
        raise UnknownRecord(f"No rollout {rollout_id}.")
    return RolloutInfo.of(R.cancel_rollout(row, by=by))


@dataclass(frozen=True)
class QueuedTraining:
    """What queue_training did: `ran` when the task ran at once (no broker configured), with its `summary`
    (retraining.retrain_placement's: None when there is not enough logged traffic); else queued."""

    ran: bool
    summary: dict[str, Any] | None


def queue_training(placement_id: int, *, algo: str = "auto", activate: bool = True) -> QueuedTraining:
    """Train a placement's model on the cpu queue (tasks.train_placement_model), activated only if it passes
    the activation gate. What creative's "train a model now" calls (registered in ranking.apps)."""
    from .tasks import train_placement_model

    result = train_placement_model.delay(placement_id, algo, activate)
    if result.ready():
        return QueuedTraining(ran=True, summary=result.get())
    return QueuedTraining(ran=False, summary=None)


# --- the target policy off-policy evaluation estimates -------------------------------------------------------

@dataclass(frozen=True)
class TargetPolicy:
    """The model bucket's policy for one placement and model version, as /rank would serve it now: the target
    of off-policy evaluation. Built by the very code serving samples from (`serving.model_policy`, then
    `policy.first_position_probabilities`) on one snapshot of the catalogue /rank serves from, so every block
    of rows is judged against the same live variants: pinned variants lead (the first holds position 1),
    then the mixture of ε-exploration, the new-variant share and greedy, or Thompson's posterior draws.

    The description fields are the mixture's effective weights (ε and the new-variant share as the policy
    applies them, 0 when no variant is new)."""

    placement: str
    model_version: str
    variant_ids: tuple[int, ...]  # the candidates, in the catalogue's order (by id)
    variant_keys: tuple[str, ...]
    exploration_policy: str  # "epsilon_greedy" or "thompson"
    epsilon: float
    new_variant_share: float
    new_variants: int  # variants below the placement's impression threshold
    pinned: tuple[str, ...]  # pinned variant keys; the first holds position 1
    thompson_draws: int  # posterior draws the policy picks from (0 for ε-greedy)
    _catalogue: serving.Catalogue = field(repr=False, compare=False)
    _epsilon: float | None = field(repr=False, compare=False, default=None)
    _prior_sd: float | None = field(repr=False, compare=False, default=None)

    def scores(self, feature_rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """rows × candidates: the model's click probability at position 1 (feature maps as `row_features`
        builds them). Raises registry.ModelUnavailable, or the scoring error, when the model cannot score."""
        variants = [StyleVariant(id=int(v["id"]), tags=v["tags"]) for v in self._catalogue.variants]
        return score_matrix(model_version=self.model_version, user_features=feature_rows, variants=variants)

    def first_position(self, scores: np.ndarray) -> np.ndarray:
        """rows × candidates: P(candidate at position 1) under the policy, for each row's `scores`."""
        cat = self._catalogue
        pi = np.zeros_like(scores)
        if cat.pinned:  # pinned variants lead every bucket: the first holds position 1
            pi[:, cat.pinned[0]] = 1.0
        elif len(scores):
            # Users with identical scores get the same policy: evaluate each distinct score row once.
            distinct, inverse = np.unique(scores, axis=0, return_inverse=True)
            first = np.array([P.first_position_probabilities(serving.model_policy(
                cat, row, epsilon=self._epsilon, prior_sd=self._prior_sd)) for row in distinct])
            pi[:, cat.pool] = first[inverse.ravel()]
        return pi


def target_policy(*, placement: Placement | str, model_version: str, epsilon: float | None = None) -> TargetPolicy:
    """The serving policy `model_version` would get on the model bucket of `placement` now (`epsilon`
    overrides the placement's exploration share). Raises NoLiveVariant when the placement has no live
    variant (or is gone)."""
    slug = placement.slug if isinstance(placement, Placement) else placement
    cat = serving.get_catalogue(slug)  # the catalogue /rank serves from
    if cat is None or not cat.variants:
        raise NoLiveVariant(slug)
    probe = serving.model_policy(cat, np.full(len(cat.variants), 0.5), epsilon=epsilon) if len(cat.pool) else None
    eps, eta, _ = probe.weights if probe is not None else (0.0, 0.0, 0.0)
    return TargetPolicy(
        placement=cat.slug, model_version=model_version, variant_ids=tuple(int(v["id"]) for v in cat.variants),
        variant_keys=tuple(str(v["key"]) for v in cat.variants), exploration_policy=str(cat.exploration_policy),
        epsilon=eps, new_variant_share=eta, new_variants=int(probe.new_mask.sum()) if probe is not None else 0,
        pinned=tuple(str(cat.variants[i]["key"]) for i in cat.pinned),
        thompson_draws=int(len(probe.heads)) if probe is not None and probe.heads is not None else 0,
        _catalogue=cat, _epsilon=epsilon, _prior_sd=variant_effect_prior(model_version))
