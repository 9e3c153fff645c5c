"""Off-policy evaluation: the CTR a candidate model would get, estimated from logged decisions.

The candidate is evaluated as it would serve: ε-greedy over the placement's live variants by its
predicted click probability (the exploration share is the placement's). Logged rank-1 impressions
with their propensities give IPS, self-normalised IPS and doubly robust estimates (the direct
method is the candidate's own predictions), each with a bootstrap 95% interval over decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from creative.models import Placement, StyleVariant, VariantStatus

from . import stats
from .interaction_log import impression_frame

MIN_ROWS = 50  # rank-1 impressions needed for an estimate
MAX_ROWS = 200_000
BOOTSTRAP = 500


class OpeError(ValueError):
    def __init__(self, message: str, field: str = "model_version"):
        super().__init__(message)
        self.field = field


def _flat_features(features: dict, context: dict) -> dict:
    """The flat feature map the ranker trains on: user features plus context keys prefixed `ctx.`."""
    return {**(features or {}), **{f"ctx.{k}": v for k, v in (context or {}).items()}}


def _bootstrap(values: dict[str, np.ndarray], estimators: dict[str, Callable[[np.ndarray], np.ndarray]],
               n_boot: int, seed: int) -> dict[str, list[float]]:
    """Percentile intervals with Poisson(1) resampling weights per decision, in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    n = len(next(iter(values.values())))
    draws: dict[str, list[np.ndarray]] = {name: [] for name in estimators}
    for start in range(0, n_boot, 50):
        k = min(50, n_boot - start)
        weights = rng.poisson(1.0, size=(k, n)).astype(float)
        for name, fn in estimators.items():
            draws[name].append(fn(weights))
    return {name: [float(np.nanpercentile(np.concatenate(d), 2.5)), float(np.nanpercentile(np.concatenate(d), 97.5))]
            for name, d in draws.items()}


def off_policy_estimate(*, placement: Placement, model_version: str, buckets: list[str] | None = None,
                        days: int | None = None, epsilon: float | None = None, n_boot: int = BOOTSTRAP,
                        seed: int = 0, max_rows: int = MAX_ROWS, include_training: bool = False) -> dict[str, Any]:
    """IPS, SNIPS and DR estimates of `model_version`'s CTR on this placement, next to the online CTR.

    By default only decisions logged after the candidate's training window are used when there are at
    least MIN_ROWS of them: a model scored on the log it was fitted to looks better than it is (it
    picks the variants that were lucky in that very log; on the simulator about +10%).
    `include_training=True`, or too few later rows, uses every row and says so in `evaluated_on`.
    """
    from ranking import services as ranking
    from ranking.models import ModelVersion

    model = ModelVersion.objects.filter(version=model_version).first()
    if model is None:
        raise OpeError(f"Unknown model version '{model_version}'.")
    buckets = buckets or ["random"]
    variants = list(StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE, blocked=False)
                    .order_by("id"))
    if not variants:
        raise OpeError(f"'{placement.slug}' has no live variant.", field="placement")
    epsilon = placement.exploration_epsilon if epsilon is None else epsilon
    frame = impression_frame(placement=placement, buckets=buckets, days=days, limit=max_rows)
    frame = frame[(frame["position"] == 1) & (frame["propensity"].astype(float) > 0)] if len(frame) else frame
    if len(frame) < MIN_ROWS:
        raise OpeError(f"needs at least {MIN_ROWS} logged rank-1 impressions with propensities (has {len(frame)})",
                       field="buckets")
    after = frame[frame["decided_at"] > model.data_to] if model.data_to is not None else frame
    if not include_training and len(after) >= MIN_ROWS:
        frame = after
    evaluated_on = "after_training" if len(frame) == len(after) else "including_training"
    rows = [_flat_features(f, c) for f, c in zip(frame["features"], frame["context"], strict=True)]
    try:
        q = ranking.score_matrix(model_version=model_version, user_features=rows, variants=variants)
    except Exception as exc:  # a missing or corrupt artefact is the caller's problem to fix, not a 500
        raise OpeError(f"cannot score with model {model_version}: {exc}") from exc
    n_variants = len(variants)
    pi = np.full(q.shape, epsilon / n_variants)
    pi[np.arange(len(q)), np.argmax(q, axis=1)] += 1 - epsilon  # ties: the first, as serving does
    index = {v.id: i for i, v in enumerate(variants)}
    logged = np.array([index.get(int(v), -1) for v in frame["variant_id"]])
    known = logged >= 0
    rows_idx = np.arange(len(q))
    pi_logged = np.where(known, pi[rows_idx, np.maximum(logged, 0)], 0.0)
    q_logged = np.where(known, q[rows_idx, np.maximum(logged, 0)], 0.0)
    mu = frame["propensity"].astype(float).to_numpy()
    r = frame["clicked"].astype(float).to_numpy()
    w = pi_logged / mu
    direct = (pi * q).sum(axis=1)
    dr_terms = direct + w * (r - q_logged)

    def ips(b: np.ndarray) -> np.ndarray:
        return (b * w * r).sum(axis=-1) / b.sum(axis=-1)

    def snips(b: np.ndarray) -> np.ndarray:
        return (b * w * r).sum(axis=-1) / (b * w).sum(axis=-1)

    def dr(b: np.ndarray) -> np.ndarray:
        return (b * dr_terms).sum(axis=-1) / b.sum(axis=-1)

    ones = np.ones(len(r))
    point = {"ips": float(ips(ones)), "snips": float(snips(ones)), "dr": float(dr(ones))}
    intervals = _bootstrap({"r": r}, {"ips": ips, "snips": snips, "dr": dr}, n_boot, seed)
    ess = float(w.sum() ** 2 / (w * w).sum()) if (w * w).sum() > 0 else 0.0
    diagnostics = {"effective_sample_size": ess, "largest_weight": float(w.max()),
                   "largest_weight_share": float(w.max() / w.sum()) if w.sum() > 0 else None}
    active = ranking.active_model_version(placement)
    online = _online_ctr(placement, active, days)
    return {
        "placement": placement.slug, "model_version": model_version, "logged_buckets": buckets,
        "rows": int(len(r)), "evaluated_on": evaluated_on, "rows_after_training": int(len(after)),
        "training_window": [_iso(model.data_from), _iso(model.data_to)],
        "candidates": n_variants, "epsilon": epsilon, "logged_ctr": float(r.mean()),
        "estimates": {name: {"ctr": point[name], "ci": intervals[name], **diagnostics} for name in point},
        "direct_method_ctr": float(direct.mean()),
        "active_model": {"model_version": active, **online},
        "notes": "Target policy: ε-greedy on the candidate's scores over today's live variants, rank 1."
                 + ("" if evaluated_on == "after_training" else
                    " These rows include the candidate's own training data, so the estimates are optimistic."),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _online_ctr(placement: Placement, active: str | None, days: int | None) -> dict[str, Any]:
    if active is None:
        return {"impressions": 0, "clicks": 0, "ctr": None, "ctr_ci": [None, None]}
    frame = impression_frame(placement=placement, buckets=["model"], days=days or 30, limit=MAX_ROWS)
    if len(frame):
        frame = frame[(frame["model_version"] == active) & (frame["position"] == 1)]
    impressions, clicks = int(len(frame)), int(frame["clicked"].sum()) if len(frame) else 0
    low, high = stats.wilson_interval(clicks, impressions) if impressions else (None, None)
    return {"impressions": impressions, "clicks": clicks, "ctr": clicks / impressions if impressions else None,
            "ctr_ci": [None if low is None else float(low), None if high is None else float(high)],
            "since": (timezone.now() - timedelta(days=days or 30)).isoformat()}
