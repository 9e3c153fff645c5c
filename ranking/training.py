"""Training rows from decisions ⨝ impressions (label = clicked), LightGBM and logistic regression rankers.

Rows are ordered by time and split 70/15/15 into train / validation (early stopping) / holdout (the
metrics stored in the registry), so the model is judged on traffic that came after what it learnt from.
Rows served by a non-uniform policy are re-weighted towards the uniform one by clipped inverse propensity.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from analytics.models import Event, EventType
from creative.models import StyleVariant

from . import features as F
from .models import Decision, ModelVersion

TRAIN_SHARE, VALID_SHARE = 0.70, 0.15


class TrainingError(Exception):
    """Not enough (or unusable) data to train."""


@dataclass
class TrainingData:
    feature_rows: list[dict[str, Any]]
    variant_ids: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    times: list[datetime]
    tags_by_variant: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def ips_weight(*, bucket: str, propensity: float | None, candidates: int, clip: float) -> float:
    """Weight that turns this row's serving policy into the uniform one; uniform rows weigh 1."""
    if bucket == "random" or not propensity or candidates <= 0:
        return 1.0
    return float(min(clip, (1.0 / candidates) / propensity))


def collect_rows(*, placement_ids: Sequence[int] | None = None) -> TrainingData:
    """Every logged impression with its decision's features and whether it was clicked."""
    decisions_qs = Decision.objects.all()
    events_qs = Event.objects.filter(decision_id__isnull=False)
    if placement_ids is not None:
        decisions_qs = decisions_qs.filter(placement_id__in=placement_ids)
        events_qs = events_qs.filter(placement_id__in=placement_ids)
    clicks = set(events_qs.filter(type=EventType.CLICK).values_list("decision_id", "variant_id").iterator())
    impressions: dict[tuple, int] = {}
    for decision_id, variant_id, position in events_qs.filter(type=EventType.IMPRESSION).values_list(
            "decision_id", "variant_id", "position").iterator():
        impressions.setdefault((decision_id, variant_id), position)
    wanted = {d for d, _ in impressions}
    decisions = {}
    for row in decisions_qs.values_list("decision_id", "features", "context", "bucket", "items", "candidates",
                                        "created_at").iterator(chunk_size=5000):
        if row[0] in wanted:
            decisions[row[0]] = row
    clip = settings.KALEIDO_IPS_CLIP
    feature_rows, vids, positions, labels, weights, times = [], [], [], [], [], []
    for (decision_id, variant_id), position in impressions.items():
        decision = decisions.get(decision_id)
        if decision is None:
            continue
        _, feats, context, bucket, items, candidates, created_at = decision
        propensity = next((it.get("propensity") for it in items if it.get("variant_id") == variant_id), None)
        feature_rows.append(F.row_features(feats, context))
        vids.append(variant_id)
        positions.append(position)
        labels.append(1 if (decision_id, variant_id) in clicks else 0)
        weights.append(ips_weight(bucket=bucket, propensity=propensity, candidates=candidates, clip=clip))
        times.append(created_at)
    order = sorted(range(len(times)), key=times.__getitem__)
    tags = dict(StyleVariant.objects.filter(id__in=set(vids)).values_list("id", "tags"))
    return TrainingData(
        feature_rows=[feature_rows[i] for i in order],
        variant_ids=np.array([vids[i] for i in order], dtype=np.int64),
        positions=np.array([positions[i] for i in order], dtype=np.float64),
        labels=np.array([labels[i] for i in order], dtype=np.float64),
        weights=np.array([weights[i] for i in order], dtype=np.float64),
        times=[times[i] for i in order],
        tags_by_variant=tags,
    )


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def calibration_curve(predicted: np.ndarray, observed: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed click rate in equal-count bins of predicted score.

    Equal counts, not equal widths: click rates sit in a narrow band near zero, where fixed-width
    bins would put nearly every row in the first bin. A remainder smaller than half a bin is folded
    into the last bin instead of being plotted as a noisy point.
    """
    predicted, observed = np.asarray(predicted, dtype=float), np.asarray(observed, dtype=float)
    if not len(predicted):
        return []
    order = np.argsort(predicted, kind="stable")
    predicted, observed = predicted[order], observed[order]
    per_bin = max(1, len(predicted) // bins)
    starts = list(range(0, len(predicted), per_bin))
    if len(starts) > 1 and len(predicted) - starts[-1] < per_bin / 2:
        starts.pop()
    curve = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(predicted)
        curve.append({"predicted": float(predicted[start:end].mean()), "observed": float(observed[start:end].mean()),
                      "count": int(end - start)})
    return curve


def holdout_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    from sklearn.metrics import log_loss, roc_auc_score

    both = 0 < y.sum() < len(y)
    return {
        "auc": float(roc_auc_score(y, p)) if both else None,
        "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])) if len(y) else None,
        "calibration_error": expected_calibration_error(y, p) if len(y) else None,
    }


def split_indices(n: int) -> tuple[slice, slice, slice]:
    a, b = int(n * TRAIN_SHARE), int(n * (TRAIN_SHARE + VALID_SHARE))
    return slice(0, a), slice(a, b), slice(b, n)


def fit_lightgbm(*, x: np.ndarray, y: np.ndarray, w: np.ndarray, spec: dict, threads: int | None = None
                 ) -> tuple[Any, dict]:
    """LightGBM binary with native categoricals; early stopping on the time-ordered validation part."""
    import lightgbm as lgb

    tr, va, _ = split_indices(len(y))
    params = {
        # Shallow trees on small data: the signal is a few user × tag interactions, and deep trees
        # fitted to a few hundred clicks mostly learn noise.
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 7 if len(y) < 50_000 else 31,
        "min_data_in_leaf": max(20, len(y) // 2000),
        "lambda_l2": 1.0, "feature_fraction": 0.9, "cat_smooth": 10, "max_cat_to_onehot": 8,
        "min_data_per_group": 20, "metric": "binary_logloss", "verbose": -1, "seed": 7, "deterministic": True,
        "num_threads": threads or settings.KALEIDO_TRAIN_THREADS,
    }
    # LightGBM refuses ':' and other JSON characters in names; the readable names live in the spec.
    names = [f"f{i}" for i in range(x.shape[1])]
    cats = F.categorical_indices(spec)
    dtrain = lgb.Dataset(x[tr], y[tr], weight=w[tr], feature_name=names, categorical_feature=cats,
                         free_raw_data=False)
    dvalid = lgb.Dataset(x[va], y[va], weight=w[va], reference=dtrain)
    booster = lgb.train(params, dtrain, num_boost_round=600, valid_sets=[dvalid],
                        callbacks=[lgb.early_stopping(40, verbose=False)])
    params["best_iteration"] = int(booster.best_iteration or booster.current_iteration())
    return booster, params


def fit_logreg(*, users: np.ndarray, tags: np.ndarray, positions: np.ndarray, y: np.ndarray, w: np.ndarray,
               spec: dict) -> dict:
    """Logistic regression on user features, tags and every user-feature × tag cross; JSON coefficients."""
    from sklearn.linear_model import LogisticRegression

    tr, _, _ = split_indices(len(y))
    scaling = {}
    for c, f in enumerate(spec["user"]):
        if f["kind"] == "num":
            col = users[tr, c]
            col = col[~np.isnan(col)]
            scaling[f["name"]] = [float(col.mean()) if len(col) else 0.0, float(col.std()) if len(col) else 1.0]
    u = F.logreg_user_matrix(spec, users, scaling)
    design = F.logreg_design(u[tr], tags[tr], positions[tr])
    model = LogisticRegression(C=0.5, max_iter=300)
    model.fit(design, y[tr], sample_weight=w[tr])
    coef = model.coef_[0]
    nu, nt = u.shape[1], tags.shape[1]
    return {
        "intercept": float(model.intercept_[0]),
        "w_user": coef[:nu].tolist(),
        "w_tags": coef[nu:nu + nt].tolist(),
        "w_cross": coef[nu + nt:nu + nt + nu * nt].reshape(nu, nt).tolist(),
        "w_position": float(coef[-1]),
        "scaling": scaling,
    }


@dataclass(frozen=True)
class TrainResult:
    model_version: str
    algo: str
    scope: str
    placement: str | None
    rows: int
    positive_rate: float
    auc: float | None
    logloss: float | None
    calibration_error: float | None
    train_seconds: float
    activated: bool

    def summary(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "auc": self.auc, "logloss": self.logloss, "rows": self.rows}


def train(*, placement=None, algo: str = "lightgbm", general: bool = False, use_variant_id: bool = False,
          min_rows: int | None = None) -> ModelVersion:
    """Build rows, fit, evaluate on the holdout and register a new (inactive) version."""
    from . import registry

    if algo not in ModelVersion.Algo.values:
        raise TrainingError(f"Unknown algorithm '{algo}' (use lightgbm or logreg).")
    general = general or placement is None
    started = time.perf_counter()
    data = collect_rows(placement_ids=None if general else [placement.id])
    min_rows = settings.KALEIDO_TRAIN_MIN_ROWS if min_rows is None else min_rows
    if len(data) < min_rows:
        raise TrainingError(f"Only {len(data)} impressions with decisions; need at least {min_rows}.")
    if data.labels.sum() == 0:
        raise TrainingError("No clicks in the training data yet.")
    live = StyleVariant.objects.filter(status="live")
    if not general:
        live = live.filter(placement=placement)
    all_tags = list(data.tags_by_variant.values()) + list(live.values_list("tags", flat=True))
    spec = F.build_spec(feature_rows=data.feature_rows, variant_tags=all_tags,
                        variant_ids=data.variant_ids.tolist() if (use_variant_id and not general) else None)
    users = F.user_codes(spec, data.feature_rows)
    unique_ids = sorted(set(data.variant_ids.tolist()))
    tag_rows = F.tag_matrix(spec, [data.tags_by_variant.get(v) for v in unique_ids])
    tags = tag_rows[np.searchsorted(unique_ids, data.variant_ids)]
    vcodes = F.variant_codes(spec, data.variant_ids.tolist())
    y, w = data.labels, data.weights
    if algo == ModelVersion.Algo.LIGHTGBM:
        x = F.lgb_matrix(spec, users=users, tags=tags, variant_codes_=vcodes, positions=data.positions)
        booster, params = fit_lightgbm(x=x, y=y, w=w, spec=spec)
        artefact = booster.model_to_string(num_iteration=params["best_iteration"]).encode()
        suffix = ".txt"
    else:
        coef = fit_logreg(users=users, tags=tags, positions=data.positions, y=y, w=w, spec=spec)
        params = {"C": 0.5, "crosses": "user × tag"}
        artefact = json.dumps(coef).encode()
        suffix = ".json"
    # Evaluate through the same loading path serving uses.
    probe = registry.LoadedModel(version="-", algo=algo, spec=spec,
                                 booster=booster if algo == ModelVersion.Algo.LIGHTGBM else None,
                                 coef=coef if algo == ModelVersion.Algo.LOGREG else {})
    _, _, ho = split_indices(len(y))
    p = probe.predict(users=users[ho], tags=tags[ho], vcodes=vcodes[ho], positions=data.positions[ho])
    metrics = holdout_metrics(y[ho], p)
    # The holdout's calibration curve, for the registry page's calibration plot.
    params = {**params, "calibration": calibration_curve(p, y[ho])}
    with transaction.atomic():
        mv = ModelVersion.objects.create(
            version=f"tmp-{time.time_ns()}", placement=None if general else placement,
            scope=ModelVersion.Scope.GENERAL if general else ModelVersion.Scope.DEDICATED,
            algo=algo, artefact="", artefact_sha256="", feature_spec=spec, params=params,
            data_from=data.times[0], data_to=data.times[-1], rows=len(y),
            positive_rate=float(y.mean()), train_seconds=time.perf_counter() - started, **metrics,
        )
        mv.version = str(mv.pk)
        mv.artefact, mv.artefact_sha256 = registry.write_artefact(version=mv.version, data=artefact, suffix=suffix)
        mv.save(update_fields=["version", "artefact", "artefact_sha256"])
    return mv
