"""Gradual release of a model version: a ramp over the model bucket's users, guardrails, automatic rollback.

A ramp (`ModelRollout`) starts only for a candidate that passes the activation gate (ranking.gate). Its
candidate then serves `steps[i]` of the model bucket's users (5% → 20% → 50% by default) and the model
that served before (the incumbent, or the control design when no model was active) serves the rest.

**Arms.** A user is in the candidate's arm when `unit_hash(salt, user_id) < share`. The hash is stable,
so a user sees one model within a step, and the candidate's users at 5% are still its users at 20%.
The arm is a deterministic function of the user, like the experiment bucket, so each decision's logged
propensity (that of the policy of the model that served it) stays exact, and the ramp can be analysed
like any experiment: every decision says which `model_version` scored it.

**Guardrails** (`check`), on the current step's impressions of the model bucket, candidate users
against incumbent users, with users as the unit (a user's impressions are correlated):

- CTR and CVR: an always-valid confidence sequence on the difference (analytics.stats.cs_radius, tuned
  to the step's minimum sample, at α / number of steps), so checking every minute is safe. Breached
  when the whole interval lies below −tolerance × the incumbent's rate: the candidate is worse;
- fallbacks: the candidate's rate of answers that fell back to the control design (loading or scoring
  errors) may exceed the incumbent's by at most KALEIDO_ROLLOUT_MAX_EXTRA_FALLBACK (Wilson lower bound);
- scoring latency: the candidate's 95th-percentile time to score the catalogue for a logged user;
- sample ratio mismatch: users per arm against the step's share (chi-square, p < 0.001) — a broken
  split makes every other number untrustworthy, so it stops the ramp too.

A breach rolls back at once (the incumbent never stopped being the active model), writes the reason
to the ramp and to the candidate's registry entry, logs at ERROR and posts to
KALEIDO_ROLLOUT_WEBHOOK_URL when set. A step ends when it has lasted `min_dwell_s` and each arm has
`min_impressions` impressions with no breach; after the last step the candidate is activated through
ranking.services.model_activate (the same path every activation takes), which ends the ramp.

**Newly published variants** ramp the same way (`start_variant_rollout`): live variants that only the
ramp's users may see (everyone else's slate is drawn from the other live variants, so each user's
propensities stay exact for the pool they were served from), with the CTR, CVR and split guardrails on
the model and random buckets; a breach pauses the variants (audited on each), the last step makes them
visible to everyone.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kaleido.two_level_cache import TwoLevelCache

from . import registry, serving_versions
from .buckets import unit_hash
from .models import ModelRollout, ModelVersion

log = logging.getLogger(__name__)

DEFAULT_STEPS = (0.05, 0.2, 0.5)


@dataclass(frozen=True)
class Guardrail:
    name: str
    passed: bool
    measured: bool  # False: not enough data (or nothing to compare) yet; a guardrail not measured never fails
    value: float | None = None
    interval: tuple[float | None, float | None] | None = None
    limit: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class RolloutCheck:
    """One evaluation of a ramp's current step."""

    rollout_id: int
    at: str
    step: int
    share: float
    candidate_users: int
    incumbent_users: int
    candidate_impressions: int
    incumbent_impressions: int
    dwell_s: float
    guardrails: list[Guardrail] = field(default_factory=list)
    action: str = "wait"  # "wait", "advance", "complete", "rollback"
    reason: str = ""

    @property
    def breached(self) -> list[Guardrail]:
        return [g for g in self.guardrails if not g.passed]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- starting and stopping --------------------------------------------------------------------------------

def validate_steps(steps: Any) -> list[float]:
    """Shares strictly increasing in (0, 1); 1.0 may end the list (it means: then activate)."""
    try:
        shares = [float(s) for s in steps]
    except (TypeError, ValueError) as exc:
        raise ValidationError({"steps": "Steps are numbers, e.g. 0.05,0.2,0.5."}) from exc
    if shares and shares[-1] == 1.0:
        shares = shares[:-1]  # the last step is the activation itself
    if not shares:
        raise ValidationError({"steps": "Give at least one step below 100%, e.g. 0.05,0.2,0.5."})
    if any(not (0.0 < s < 1.0) or not math.isfinite(s) for s in shares):
        raise ValidationError({"steps": "Each step is a share of the model bucket's users between 0 and 1."})
    if any(b <= a for a, b in zip(shares, shares[1:], strict=False)):
        raise ValidationError({"steps": "Steps must increase, e.g. 0.05,0.2,0.5."})
    return shares


def start_rollout(*, version: str, steps: Any = None, min_dwell_s: int | None = None,
                  min_impressions: int | None = None, force: bool = False, by: str = "") -> ModelRollout:
    """Start ramping `version` on its placement, if it passes the activation gate (or `force`).

    Raises gate.ActivationRefused when the gate refuses it, ValidationError for a version that cannot
    ramp (a general model, the active one, or a placement with a ramp under way).
    """
    from . import gate

    candidate = ModelVersion.objects.select_related("placement").get(version=version)
    if candidate.scope != ModelVersion.Scope.DEDICATED or candidate.placement_id is None:
        raise ValidationError({"version": "Only a placement's dedicated model ramps; a general model serves "
                                          "every placement and is activated at once."})
    if candidate.is_active:
        raise ValidationError({"version": f"v{version} already serves {candidate.placement.slug}."})
    shares = validate_steps(DEFAULT_STEPS if steps is None else steps)
    dwell = settings.KALEIDO_ROLLOUT_MIN_DWELL_S if min_dwell_s is None else int(min_dwell_s)
    sample = settings.KALEIDO_ROLLOUT_MIN_IMPRESSIONS if min_impressions is None else int(min_impressions)
    if dwell < 0 or sample < 1:
        raise ValidationError({"min_impressions": "A step needs at least one impression per arm and a dwell "
                                                  "time of zero seconds or more."})
    verdict = gate.check(candidate)
    if not verdict.passed and not force:
        raise gate.ActivationRefused(version, verdict)
    incumbent = ModelVersion.objects.filter(placement_id=candidate.placement_id, is_active=True,
                                            scope=ModelVersion.Scope.DEDICATED).first()
    now = timezone.now()
    try:
        with transaction.atomic():
            rollout = ModelRollout.objects.create(
                placement_id=candidate.placement_id, candidate=candidate, incumbent=incumbent, steps=shares,
                min_dwell_s=dwell, min_impressions=sample, salt=secrets.token_hex(8), step_index=0,
                step_started_at=now, started_at=now, started_by=by[:150],
                history=[{"at": now.isoformat(), "event": "started", "step": 0, "share": shares[0], "by": by,
                          "forced": not verdict.passed, "gate": verdict.as_dict()}])
            _note_on_candidate(candidate, {"at": now.isoformat(), "event": "rollout_started",
                                           "rollout": rollout.id, "by": by, "forced": not verdict.passed})
            serving_versions.bump(serving_versions.MODELS)
    except IntegrityError as exc:
        raise ValidationError({"version": f"{candidate.placement.slug} already has a ramp under way; "
                                          "let it finish or cancel it first."}) from exc
    _forget()
    log.info("rollout %s of v%s on %s started at %.0f%%", rollout.id, version, candidate.placement.slug,
             shares[0] * 100)
    return rollout


def start_variant_rollout(*, placement: Any, variant_ids: list[int], steps: Any = None,
                          min_dwell_s: int | None = None, min_impressions: int | None = None,
                          by: str = "") -> ModelRollout:
    """Ramp live variants of `placement` (typically just published): only the ramp's users see them.

    Raises ValidationError for variants that are not live, unpinned variants of the placement, when no
    other live variant would be left for the users outside the arm, or with a ramp under way.
    """
    from creative.models import StyleVariant, VariantStatus

    try:
        ids = sorted({int(v) for v in variant_ids})
    except (TypeError, ValueError) as exc:
        raise ValidationError({"variants": "Variant ids are whole numbers."}) from exc
    if not ids:
        raise ValidationError({"variants": "Name the variants to release gradually."})
    live = StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE, blocked=False)
    found = dict(live.filter(id__in=ids).values_list("id", "pinned"))
    missing = [v for v in ids if v not in found]
    if missing:
        raise ValidationError({"variants": f"Not live variants of {placement.slug}: {missing}. Publish them "
                                           "first; they stay hidden from users outside the ramp."})
    pinned = [v for v, is_pinned in found.items() if is_pinned]
    if pinned:
        raise ValidationError({"variants": f"Pinned variants show to everyone and cannot ramp: {pinned}."})
    if not live.filter(pinned=False).exclude(id__in=ids).exists():
        raise ValidationError({"variants": "Every live variant would be in the ramp: users outside it would "
                                           "have nothing to see. Keep at least one other variant live."})
    shares = validate_steps(DEFAULT_STEPS if steps is None else steps)
    dwell = settings.KALEIDO_ROLLOUT_MIN_DWELL_S if min_dwell_s is None else int(min_dwell_s)
    sample = settings.KALEIDO_ROLLOUT_MIN_IMPRESSIONS if min_impressions is None else int(min_impressions)
    if dwell < 0 or sample < 1:
        raise ValidationError({"min_impressions": "A step needs at least one impression per arm and a dwell "
                                                  "time of zero seconds or more."})
    now = timezone.now()
    try:
        with transaction.atomic():
            rollout = ModelRollout.objects.create(
                kind=ModelRollout.Kind.VARIANTS, placement=placement, variant_ids=ids, steps=shares,
                min_dwell_s=dwell, min_impressions=sample, salt=secrets.token_hex(8), step_index=0,
                step_started_at=now, started_at=now, started_by=by[:150],
                history=[{"at": now.isoformat(), "event": "started", "step": 0, "share": shares[0], "by": by,
                          "variants": ids}])
            serving_versions.bump(serving_versions.MODELS)
    except IntegrityError as exc:
        raise ValidationError({"variants": f"{placement.slug} already has a ramp under way; let it finish or "
                                           "cancel it first."}) from exc
    _forget()
    log.info("rollout %s of %d variants on %s started at %.0f%%", rollout.id, len(ids), placement.slug,
             shares[0] * 100)
    return rollout


def cancel_rollout(rollout: ModelRollout, *, by: str = "", reason: str = "cancelled by an operator") -> ModelRollout:
    """Stop a ramp; the incumbent serves everyone again."""
    if rollout.status != ModelRollout.Status.RAMPING:
        raise ValidationError({"rollout": f"This ramp has already ended ({rollout.get_status_display()})."})
    _finish(rollout, ModelRollout.Status.CANCELLED, reason=reason, by=by)  # type: ignore[arg-type]  # a TextChoices member
    return rollout


def _note_on_candidate(candidate: ModelVersion | None, entry: dict[str, Any]) -> None:
    """The registry's record of the candidate keeps its ramps' story (next to its activations)."""
    if candidate is None:
        return
    params = dict(candidate.params or {})
    params["rollouts"] = [*params.get("rollouts", []), entry]
    ModelVersion.objects.filter(pk=candidate.pk).update(params=params)
    candidate.params = params


def _finish(rollout: ModelRollout, status: str, *, reason: str, by: str = "",
            check: RolloutCheck | None = None) -> None:
    now = timezone.now()
    with transaction.atomic():
        rollout.status = status
        rollout.reason = reason
        rollout.finished_at = now
        rollout.history = [*rollout.history, {"at": now.isoformat(), "event": status, "step": rollout.step_index,
                                              "reason": reason, "by": by}]
        if check is not None:
            rollout.last_check = check.as_dict()
        rollout.save(update_fields=["status", "reason", "finished_at", "history", "last_check"])
        _note_on_candidate(rollout.candidate, {"at": now.isoformat(), "event": f"rollout_{status}",
                                               "rollout": rollout.id, "reason": reason, "by": by})
        serving_versions.bump(serving_versions.MODELS)
    _forget()


# --- serving ---------------------------------------------------------------------------------------------

class _Ramp(NamedTuple):
    kind: str
    version: str | None  # kind model: the candidate
    share: float
    salt: str
    variant_ids: frozenset[int]  # kind variants: hidden from users outside the arm


RAMPS_KEY = "ranking:ramps"
# Like the active-model table: this process's copy for KALEIDO_RANK_LOCAL_CHECK_S, then the shared cache's,
# both kept at the `models` serving version, which every ramp that starts, steps or ends bumps.
_ramp_tables: TwoLevelCache[dict[int, _Ramp]] = TwoLevelCache(
    "ramps", local_s=lambda: settings.KALEIDO_RANK_LOCAL_CHECK_S, shared_s=lambda: settings.KALEIDO_MODEL_STAMP_TTL)


def _ramps() -> dict[int, _Ramp]:
    """Ramps under way, from process memory, then the shared cache; re-read when the `models` serving
    version moves."""
    stamp = serving_versions.current(serving_versions.MODELS)
    return _ramp_tables.get_or_compute(RAMPS_KEY, _read_ramps, version=stamp)


def _read_ramps() -> dict[int, _Ramp]:
    rows = ModelRollout.objects.filter(status=ModelRollout.Status.RAMPING).values_list(
        "placement_id", "kind", "candidate__version", "steps", "step_index", "salt", "variant_ids")
    return {pid: _Ramp(kind, version, float(steps[min(i, len(steps) - 1)]), salt,
                       frozenset(int(v) for v in variant_ids or []))
            for pid, kind, version, steps, i, salt, variant_ids in rows}


def _forget() -> None:
    _ramp_tables.invalidate(RAMPS_KEY)


def candidate_version_for(placement_id: int, user_id: str) -> str | None:
    """The ramp's candidate when this user is in its arm, else None (the active model serves them)."""
    ramp = _ramps().get(placement_id)
    if ramp is None or ramp.kind != ModelRollout.Kind.MODEL:
        return None
    return ramp.version if unit_hash(ramp.salt, user_id) < ramp.share else None


_NOTHING_HIDDEN: frozenset[int] = frozenset()


def hidden_variants_for(placement_id: int, user_id: str) -> frozenset[int]:
    """Variant ids this user may not see yet: a variant ramp's variants when the user is outside its arm."""
    ramp = _ramps().get(placement_id)
    if ramp is None or ramp.kind != ModelRollout.Kind.VARIANTS or unit_hash(ramp.salt, user_id) < ramp.share:
        return _NOTHING_HIDDEN
    return ramp.variant_ids


def in_candidate_arm(salt: str, share: float, user_ids: pd.Series) -> np.ndarray:
    return np.array([unit_hash(salt, str(u)) < share for u in user_ids], dtype=bool)


# --- guardrails ------------------------------------------------------------------------------------------

def _per_user(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    grouped = frame.groupby("user_id", sort=False).agg(y=(column, "sum"), x=(column, "size"))
    return grouped["y"].to_numpy(dtype=float), grouped["x"].to_numpy(dtype=float)


def _rate_guardrail(name: str, cand: pd.DataFrame, inc: pd.DataFrame, column: str, *, alpha: float,
                    planned_n: float) -> Guardrail:
    from analytics import stats

    if cand.empty or inc.empty or (cand[column].sum() + inc[column].sum()) == 0:
        return Guardrail(name, passed=True, measured=False, detail="no events of this kind in the step yet")
    (yc, xc), (yi, xi) = _per_user(cand, column), _per_user(inc, column)
    rc, vc = stats.ratio_delta(stats.RatioStats.from_units(yc, xc))
    ri, vi = stats.ratio_delta(stats.RatioStats.from_units(yi, xi))
    diff, var = float(rc - ri), float(vc + vi)
    n_eff = float(stats.effective_n(len(yc), len(yi)))
    if not (var > 0 and n_eff > 0):
        return Guardrail(name, passed=True, measured=False, value=diff, detail="too few users to measure")
    radius = float(stats.cs_radius(math.sqrt(var), n_eff, alpha=alpha, planned_n=planned_n))
    low, high = diff - radius, diff + radius
    limit = -settings.KALEIDO_ROLLOUT_TOLERANCE * float(ri)
    worse = high < limit
    detail = (f"candidate {float(rc):.2%} vs incumbent {float(ri):.2%} over {len(yc)} + {len(yi)} users; "
              f"always-valid {1 - alpha:.1%} interval of the difference [{low:+.2%}, {high:+.2%}]")
    return Guardrail(name, passed=not worse, measured=True, value=diff, interval=(low, high), limit=limit,
                     detail=detail + (" lies below the tolerance" if worse else ""))


def _fallback_guardrail(cand: pd.DataFrame, inc: pd.DataFrame) -> Guardrail:
    from analytics import stats

    if cand.empty:
        return Guardrail("fallback_rate", passed=True, measured=False, detail="no candidate impressions yet")
    fell_c = int(cand["model_version"].astype(str).str.startswith("fallback:").sum())
    fell_i = int(inc["model_version"].astype(str).str.startswith("fallback:").sum()) if not inc.empty else 0
    rate_c = fell_c / len(cand)
    # Without an incumbent model its arm always "falls back" (to the control design): compare with zero.
    rate_i = fell_i / len(inc) if not inc.empty and not inc["model_version"].eq("fallback:no_model").all() else 0.0
    low, _ = stats.wilson_interval(fell_c, len(cand))
    limit = rate_i + settings.KALEIDO_ROLLOUT_MAX_EXTRA_FALLBACK
    passed = not float(low) > limit
    return Guardrail("fallback_rate", passed=passed, measured=True, value=rate_c, interval=(float(low), None),
                     limit=limit, detail=f"{fell_c} of {len(cand)} candidate answers fell back to the control "
                                         f"design ({rate_c:.2%}; incumbent {rate_i:.2%})")


def _latency_guardrail(rollout: ModelRollout, cand: pd.DataFrame) -> Guardrail:
    from .serving import get_catalogue, score_user

    limit = settings.KALEIDO_ROLLOUT_MAX_SCORE_MS
    cat = get_catalogue(rollout.placement.slug)
    try:
        model = registry.get_model(rollout.candidate.version)
    except registry.ModelUnavailable as exc:
        return Guardrail("scoring_latency", passed=False, measured=True, limit=limit,
                         detail=f"the candidate cannot be loaded: {exc.reason}")
    if cat is None or not cat.variants:
        return Guardrail("scoring_latency", passed=True, measured=False, detail="no live variants")
    from . import features as F

    rows = cand.head(20)
    logged = list(zip(rows["features"], rows["context"], strict=True)) or [({}, {})]
    samples = []
    for feats, ctx in logged:
        started = time.perf_counter()
        score_user(model, cat, F.row_features(feats or {}, ctx or {}))
        samples.append((time.perf_counter() - started) * 1000)
    p95 = float(np.percentile(samples, 95))
    return Guardrail("scoring_latency", passed=p95 <= limit, measured=True, value=p95, limit=limit,
                     detail=f"95th percentile {p95:.2f} ms to score {len(cat.variants)} variants "
                            f"for a logged user (limit {limit:g} ms)")


def _srm_guardrail(share: float, cand_users: int, inc_users: int) -> Guardrail:
    from analytics import stats

    total = cand_users + inc_users
    if total < 20 or min(share * total, (1 - share) * total) < 5:
        return Guardrail("sample_ratio", passed=True, measured=False, detail="too few users to test the split")
    p = float(stats.srm_p_value(np.array([cand_users, inc_users]), np.array([share, 1 - share])))
    return Guardrail("sample_ratio", passed=p >= stats.SRM_ALPHA, measured=True, value=p, limit=stats.SRM_ALPHA,
                     detail=f"{cand_users} candidate and {inc_users} incumbent users for a {share:.0%} share "
                            f"(chi-square p = {p:.3g})")


def step_frame(rollout: ModelRollout, *, now: datetime | None = None) -> pd.DataFrame:
    """The current step's impressions of the model bucket, with an `arm` column (True: candidate)."""
    from analytics.interaction_log import bandit_feedback

    # A model ramp splits the model bucket; new variants can show in the model and the random buckets.
    buckets = ("model",) if rollout.kind == ModelRollout.Kind.MODEL else ("model", "random")
    frame = bandit_feedback(placement=rollout.placement, buckets=buckets, since=rollout.step_started_at,
                            until=now, limit=settings.KALEIDO_ROLLOUT_MAX_ROWS).frame
    frame = frame[frame["decided_at"] >= pd.Timestamp(rollout.step_started_at)]
    frame = frame.assign(arm=in_candidate_arm(rollout.salt, rollout.share, frame["user_id"]))
    return frame


def check(rollout: ModelRollout, *, now: datetime | None = None) -> RolloutCheck:
    """Evaluate the ramp's current step (reads only; `evaluate` acts on the verdict)."""
    now = now or timezone.now()
    frame = step_frame(rollout, now=now)
    cand, inc = frame[frame["arm"]], frame[~frame["arm"]]
    alpha = 0.05 / len(rollout.steps)  # one sequence per step: the ramp's overall error stays at 5%
    planned = max(rollout.min_impressions, 20)
    ready_sample = len(cand) >= rollout.min_impressions and len(inc) >= rollout.min_impressions
    guardrails = [
        _rate_guardrail("ctr", cand, inc, "clicked", alpha=alpha, planned_n=planned),
        _rate_guardrail("cvr", cand, inc, "converted", alpha=alpha, planned_n=planned),
    ]
    if rollout.kind == ModelRollout.Kind.MODEL:  # what a new model can break that new variants cannot
        guardrails += [_fallback_guardrail(cand, inc), _latency_guardrail(rollout, cand)]
    guardrails.append(_srm_guardrail(rollout.share, int(cand["user_id"].nunique()), int(inc["user_id"].nunique())))
    dwell = (now - rollout.step_started_at).total_seconds()
    breached = [g for g in guardrails if not g.passed]
    if breached:
        action = "rollback"
        reason = "; ".join(f"{g.name}: {g.detail}" for g in breached)
    elif dwell >= rollout.min_dwell_s and ready_sample:
        action = "complete" if rollout.step_index >= len(rollout.steps) - 1 else "advance"
        reason = f"step {rollout.step_index + 1} held for {dwell:.0f} s with every guardrail met"
    else:
        action = "wait"
        needs = []
        if dwell < rollout.min_dwell_s:
            needs.append(f"{rollout.min_dwell_s - dwell:.0f} s more")
        if not ready_sample:
            needs.append(f"{rollout.min_impressions} impressions per arm (candidate {len(cand)}, "
                         f"incumbent {len(inc)})")
        reason = "waiting for " + " and ".join(needs)
    return RolloutCheck(
        rollout_id=rollout.id, at=now.isoformat(), step=rollout.step_index, share=rollout.share,
        candidate_users=int(cand["user_id"].nunique()), incumbent_users=int(inc["user_id"].nunique()),
        candidate_impressions=len(cand), incumbent_impressions=len(inc), dwell_s=dwell, guardrails=guardrails,
        action=action, reason=reason)


def evaluate(rollout: ModelRollout, *, now: datetime | None = None) -> RolloutCheck:
    """Check the ramp and act: wait, move to the next step, activate the candidate, or roll back."""
    if rollout.status != ModelRollout.Status.RAMPING:
        raise ValidationError({"rollout": f"This ramp has already ended ({rollout.get_status_display()})."})
    verdict = check(rollout, now=now)
    now = now or timezone.now()
    if verdict.action == "rollback":
        _finish(rollout, ModelRollout.Status.ROLLED_BACK, reason=verdict.reason, by="guardrail", check=verdict)  # type: ignore[arg-type]  # a TextChoices member
        if rollout.kind == ModelRollout.Kind.VARIANTS:
            _pause_variants(rollout, verdict.reason)
        log.error("rollout %s of %s on %s rolled back at %.0f%%: %s", rollout.id, _what(rollout),
                  rollout.placement.slug, verdict.share * 100, verdict.reason)
        notify({"event": "rollout_rolled_back", "rollout": rollout.id, "kind": rollout.kind,
                "placement": rollout.placement.slug,
                "candidate": rollout.candidate.version if rollout.candidate_id else None,
                "variants": rollout.variant_ids, "share": verdict.share, "reason": verdict.reason})
    elif verdict.action == "advance":
        with transaction.atomic():
            rollout.step_index += 1
            rollout.step_started_at = now
            rollout.last_check = verdict.as_dict()
            rollout.history = [*rollout.history, {"at": now.isoformat(), "event": "advanced",
                                                  "step": rollout.step_index, "share": rollout.share,
                                                  "reason": verdict.reason}]
            rollout.save(update_fields=["step_index", "step_started_at", "last_check", "history"])
            serving_versions.bump(serving_versions.MODELS)
        _forget()
        log.info("rollout %s of %s on %s now at %.0f%%", rollout.id, _what(rollout),
                 rollout.placement.slug, rollout.share * 100)
    elif verdict.action == "complete" and rollout.kind == ModelRollout.Kind.VARIANTS:
        _finish(rollout, ModelRollout.Status.COMPLETED, reason=verdict.reason, by="rollout", check=verdict)  # type: ignore[arg-type]  # a TextChoices member
        log.info("rollout %s on %s completed: its %d variants show to everyone", rollout.id,
                 rollout.placement.slug, len(rollout.variant_ids))
    elif verdict.action == "complete":
        from .services import model_activate

        # The gate judged the candidate when the ramp started; the ramp was its live test. Forcing here
        # records the gate's numbers again without letting a changed holdout undo a passed ramp.
        model_activate(version=rollout.candidate.version, force=True, by=f"rollout {rollout.id}")
        _finish(rollout, ModelRollout.Status.COMPLETED, reason=verdict.reason, by="rollout", check=verdict)  # type: ignore[arg-type]  # a TextChoices member
        log.info("rollout %s of v%s on %s completed: the candidate serves the model bucket",
                 rollout.id, rollout.candidate.version, rollout.placement.slug)
    else:
        ModelRollout.objects.filter(pk=rollout.pk).update(last_check=verdict.as_dict())
        rollout.last_check = verdict.as_dict()
    return verdict


def _what(rollout: ModelRollout) -> str:
    return f"v{rollout.candidate.version}" if rollout.candidate_id else f"{len(rollout.variant_ids)} variants"


def _pause_variants(rollout: ModelRollout, reason: str) -> None:
    """A breached variant ramp takes its variants off the air for everyone, each change audited."""
    from creative.models import StyleVariant, VariantStatus
    from creative.services.variants import variant_transition

    for variant in StyleVariant.objects.filter(id__in=rollout.variant_ids, status=VariantStatus.LIVE):
        variant_transition(variant=variant, to_status=VariantStatus.PAUSED,
                           note=f"rolled back by ramp {rollout.id}: {reason}"[:300])


def evaluate_ramping() -> list[RolloutCheck]:
    """Evaluate every ramp under way (the periodic task)."""
    out = []
    for rollout in ModelRollout.objects.filter(status=ModelRollout.Status.RAMPING).select_related(
            "placement", "candidate"):
        try:
            out.append(evaluate(rollout))
        except Exception:  # one broken ramp must not stop the others being watched
            log.exception("could not evaluate rollout %s", rollout.id)
    return out


def notify(payload: dict[str, Any]) -> bool:
    """POST the payload as JSON to KALEIDO_ROLLOUT_WEBHOOK_URL (when set); True when it was accepted."""
    url = settings.KALEIDO_ROLLOUT_WEBHOOK_URL
    if not url:
        return False
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.KALEIDO_ROLLOUT_WEBHOOK_TIMEOUT_S) as answer:  # noqa: S310
            return 200 <= answer.status < 300
    except OSError:
        log.warning("rollout webhook %s did not answer", url, exc_info=True)
        return False


def rollout_summary(rollout: ModelRollout) -> dict[str, Any]:
    """Where a ramp stands, for the admin, the API and the dashboard."""
    return {
        "id": rollout.id, "kind": rollout.kind, "placement": rollout.placement.slug,
        "candidate": rollout.candidate.version if rollout.candidate_id else None,
        "variant_ids": rollout.variant_ids,
        "incumbent": rollout.incumbent.version if rollout.incumbent_id else None,
        "status": rollout.status, "steps": rollout.steps, "step": rollout.step_index, "share": rollout.share,
        "min_dwell_s": rollout.min_dwell_s, "min_impressions": rollout.min_impressions,
        "started_at": rollout.started_at.isoformat(), "step_started_at": rollout.step_started_at.isoformat(),
        "finished_at": rollout.finished_at.isoformat() if rollout.finished_at else None,
        "started_by": rollout.started_by, "reason": rollout.reason, "last_check": rollout.last_check or None,
        "history": rollout.history,
    }
