"""Explanations of a placement's clicks: an explainable boosting machine (EBM) over what serving sees
(user features, request context `ctx.*`, the position shown, variant tags) with user/context × tag pairs,
plus the active model's per-prediction contributions averaged by segment (context and position
included: serving scores with them, so an explanation without them explains predictions serving never
makes). Trained by a Celery job on the cpu queue, cached per placement.

The EBM is fitted on the earlier 80% of the rows (in decision time) and judged on the later 20%: the
answer's `holdout_auc` says how much of the clicks it explains on traffic it did not see. A feature a
row lacks is missing (the EBM's own missing bin), never a category named "nan" or "unknown".
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from creative.models import Placement

from .attribution import segment_column
from .interaction_log import impression_frame
from .models import PlacementExplanation

log = logging.getLogger(__name__)

CONTRIBUTION_ROWS = 3000
TOP_PAIRS = 5
TOP_MAINS = 12
# A fit asked for longer ago than this and still pending is taken for lost (a worker died): a refresh may
# start another. Also how long a worker's fit lock lives at most.
FIT_STALE_S = 3600
POSITION = "position"  # the EBM column of the position shown (a main effect, not in pairs)
HOLDOUT_SHARE = 0.2


def ebm_jobs() -> int:
    """Threads an EBM fit uses: KALEIDO_EBM_JOBS (a setting or the environment), 0 or unset = every
    core this process may run on."""
    configured = getattr(settings, "KALEIDO_EBM_JOBS", None)
    if configured is None:
        configured = os.environ.get("KALEIDO_EBM_JOBS", "0")
    jobs = int(configured)
    if jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity
        return max(1, os.cpu_count() or 1)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ebm_design(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Columns for the EBM: one per user feature and context key (`ctx.<key>`, as the ranker names them),
    the position shown, and one per tag group (values joined by +, from the tags each impression's
    variant was served with). Returns (design, user and context columns, tag columns).

    A column is numeric when every value it has is a number; values a row lacks are NaN (missing) in
    numeric and nominal columns alike."""
    from ranking.services import row_features

    contexts = frame["context"] if "context" in frame else [None] * len(frame)
    records = [row_features(f if isinstance(f, dict) else {}, c if isinstance(c, dict) else {})
               for f, c in zip(frame["features"], contexts, strict=True)]
    features = pd.DataFrame.from_records(records).reset_index(drop=True)
    user_cols = []
    design = pd.DataFrame(index=features.index)
    for name in sorted(features.columns):
        column = features[name].astype(object)
        missing = column.map(_is_missing).astype(bool)
        present = column[~missing]
        if len(present) and present.map(_is_number).all():
            design[name] = pd.to_numeric(column.where(~missing), errors="coerce").astype(float)
        else:
            design[name] = column.map(lambda v: np.nan if _is_missing(v) else str(v).lower()).astype(object)
        user_cols.append(name)
    if "position" in frame:
        design[POSITION] = pd.to_numeric(frame["position"], errors="coerce").astype(float).to_numpy()
    served = list(frame["tags"])
    groups = sorted({g for t in served for g in (t or {})})
    tag_cols = []
    for group in groups:
        # A variant without a value in the group is missing there, like a user without a feature.
        design[f"tag:{group}"] = pd.Series(["+".join(sorted((t or {}).get(group) or [])) or np.nan for t in served],
                                           index=design.index, dtype=object)
        tag_cols.append(f"tag:{group}")
    return design, user_cols, tag_cols


def fit_ebm(design: pd.DataFrame, y: np.ndarray, user_cols: list[str], tag_cols: list[str], *,
            n_jobs: int = 1, random_state: int = 0):
    """EBM with pairwise interactions restricted to user feature (or context) × tag (the pairs analysts
    read); the position is a main effect only."""
    from interpret.glassbox import ExplainableBoostingClassifier

    names = list(design.columns)
    exclude = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
               if POSITION in (a, b) or (a in user_cols) == (b in user_cols)]  # user×user and tag×tag pairs
    types = ["continuous" if design[c].dtype.kind == "f" else "nominal" for c in names]
    ebm = ExplainableBoostingClassifier(feature_names=names, feature_types=types, interactions=10,
                                        exclude=exclude, outer_bags=4, n_jobs=n_jobs,
                                        random_state=random_state, max_rounds=3000)
    with warnings.catch_warnings():  # missing values are deliberate here: the EBM's missing bin
        warnings.filterwarnings("ignore", message="Missing values detected")
        ebm.fit(design, y)
    return ebm


def _jsonable(values) -> list:
    out = []
    for v in np.asarray(values, dtype=object).tolist():
        if isinstance(v, list):
            out.append(_jsonable(v))
        elif isinstance(v, float | np.floating):
            out.append(float(v) if math.isfinite(v) else None)
        else:
            out.append(v if isinstance(v, int | str) or v is None else str(v))
    return out


def summarise_ebm(ebm) -> dict[str, Any]:
    importances = ebm.term_importances()
    explanation = ebm.explain_global()
    terms = []
    for i, name in enumerate(ebm.term_names_):
        features = [ebm.feature_names_in_[j] for j in ebm.term_features_[i]]
        terms.append({"name": name, "type": "pair" if len(features) == 2 else "main", "features": features,
                      "importance": float(importances[i]), "index": i})
    terms.sort(key=lambda t: -t["importance"])
    mains, pairs = [], []
    for term in terms:
        data = explanation.data(term["index"]) or {}
        if term["type"] == "main" and len(mains) < TOP_MAINS:
            # The missing bin's score (rows without the feature) is the first of the term's scores.
            missing = float(np.asarray(ebm.term_scores_[term["index"]]).ravel()[0])
            mains.append({**term, "shape": {"names": _jsonable(data.get("names", [])),
                                            "scores": _jsonable(data.get("scores", [])),
                                            "missing_score": missing if math.isfinite(missing) else None}})
        elif term["type"] == "pair" and len(pairs) < TOP_PAIRS:
            pairs.append({**term, "shape": {"left_names": _jsonable(data.get("left_names", [])),
                                            "right_names": _jsonable(data.get("right_names", [])),
                                            "scores": _jsonable(data.get("scores", []))}})
    for term in terms + mains + pairs:
        term.pop("index", None)
    return {"terms": [{k: t[k] for k in ("name", "type", "features", "importance")} for t in terms],
            "main_effects": mains, "pairs": pairs}


def segment_contributions(*, placement: Placement, frame: pd.DataFrame, rows: int = CONTRIBUTION_ROWS,
                          seed: int = 0) -> dict[str, Any] | None:
    """The active model's per-prediction contributions (LightGBM pred_contrib), averaged by segment.

    Each row is scored as serving scored it: user features with the request context (`ctx.*`) and the
    position shown, so context and position terms appear; segments include the context keys."""
    from ranking import services as ranking
    from ranking.services import row_features

    version = ranking.active_model_version(placement)
    if version is None or frame.empty:
        return None
    sample = frame.sample(n=min(rows, len(frame)), random_state=seed).reset_index(drop=True)
    contexts = sample["context"] if "context" in sample else [None] * len(sample)
    # The ranker's flat feature map: what /rank scores (ranking.features.row_features).
    sample = sample.assign(features=[row_features(f if isinstance(f, dict) else {}, c if isinstance(c, dict) else {})
                                     for f, c in zip(sample["features"], contexts, strict=True)])
    try:
        contributions = ranking.feature_contributions(model_version=version, rows=[
            {"features": f, "tags": t or {}, "variant_id": int(v), "position": int(p or 1)}
            for f, t, v, p in zip(sample["features"], sample["tags"], sample["variant_id"], sample["position"],
                                  strict=True)])
    except Exception as exc:  # a missing artefact or a model without contributions: report, do not fail
        log.warning("contributions unavailable for %s: %s", version, exc)
        return {"model_version": version, "error": str(exc)[:300]}
    table = pd.DataFrame(contributions).fillna(0.0)
    by_segment: dict[str, dict[str, list[dict]]] = {}
    features = sorted({k for f in sample["features"] for k in f})
    for feature in features:
        seg = segment_column(sample, feature)
        by_value: dict[str, list[dict]] = {}
        for value in sorted(seg.dropna().unique()):
            mean = table[(seg == value).to_numpy()].mean()
            mean = mean.drop(labels=["bias"], errors="ignore")
            top = mean.reindex(mean.abs().sort_values(ascending=False).index)[:5]
            by_value[value] = [{"term": k, "mean_contribution": float(v)} for k, v in top.items()]
        by_segment[feature] = by_value
    return {"model_version": version, "rows": int(len(sample)), "scale": "log-odds",
            "terms": [str(c) for c in table.columns if c != "bias"], "by_segment": by_segment}


def explanation_compute(*, placement_id: int, buckets: tuple[str, ...] = ("random",), n_jobs: int | None = None,
                        max_rows: int | None = None) -> PlacementExplanation:
    """Train the EBM on the placement's random-bucket impressions (at most KALEIDO_EBM_MAX_ROWS) and cache the
    summary. `n_jobs` defaults to `ebm_jobs()` (every core unless KALEIDO_EBM_JOBS says otherwise)."""
    max_rows = settings.KALEIDO_EBM_MAX_ROWS if max_rows is None else max_rows
    n_jobs = ebm_jobs() if n_jobs is None else n_jobs
    placement = Placement.objects.get(pk=placement_id)
    explanation, _ = PlacementExplanation.objects.get_or_create(placement=placement)
    lock = f"explain-fit:{placement_id}"
    if not _take_lock(lock):  # a redelivered or doubled job: one EBM fit per placement at a time
        log.info("explanation of placement %s is already being fitted; skipping this job", placement_id)
        return explanation
    try:
        return _fit_and_store(placement, explanation, buckets=buckets, n_jobs=n_jobs, max_rows=max_rows)
    finally:
        _release_lock(lock)


def holdout_split(y: np.ndarray, share: float = HOLDOUT_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the earlier (1 − share) rows and of the later share, the training part keeping both
    classes (rows are in time order)."""
    cut = int(round(len(y) * (1 - share)))
    while cut < len(y) and len(np.unique(y[:cut])) < 2:
        cut += 1
    return np.arange(cut), np.arange(cut, len(y))


def holdout_auc(ebm: Any, design: pd.DataFrame, y: np.ndarray) -> float | None:
    """ROC AUC of the EBM on the holdout; None when the holdout lacks a class."""
    from sklearn.metrics import roc_auc_score

    if len(y) == 0 or len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, ebm.predict_proba(design)[:, 1]))


def _take_lock(key: str) -> bool:
    try:
        return bool(cache.add(key, 1, timeout=FIT_STALE_S))
    except Exception:  # a cache outage: the row claim in explanation_for already de-duplicates requests
        return True


def _release_lock(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # noqa: S110 - the lock expires on its own
        pass


def _fit_and_store(placement: Placement, explanation: PlacementExplanation, *, buckets: tuple[str, ...],
                   n_jobs: int, max_rows: int) -> PlacementExplanation:
    started = time.monotonic()
    try:
        frame = impression_frame(placement=placement, buckets=list(buckets), limit=max_rows)
        if len(frame) < 200 or frame["clicked"].nunique() < 2:
            raise ValueError(f"needs at least 200 random-bucket impressions with clicks (has {len(frame)})")
        # Earlier rows train, later rows judge (the frame is most recent first).
        frame = frame.sort_values("decided_at", kind="stable").reset_index(drop=True)
        design, user_cols, tag_cols = ebm_design(frame)
        y = frame["clicked"].to_numpy().astype(int)
        train, holdout = holdout_split(y)
        ebm = fit_ebm(design.iloc[train], y[train], user_cols, tag_cols, n_jobs=n_jobs)
        result = summarise_ebm(ebm)
        result["holdout_rows"] = int(len(holdout))
        result["holdout_auc"] = holdout_auc(ebm, design.iloc[holdout], y[holdout])
        result["n_jobs"] = int(n_jobs)
        result["contributions"] = segment_contributions(placement=placement, frame=frame)
        result["train_seconds"] = round(time.monotonic() - started, 1)
        explanation.status, explanation.result, explanation.error = PlacementExplanation.Status.READY, result, ""
        explanation.rows = len(frame)
    except ValueError as exc:
        explanation.status, explanation.error = PlacementExplanation.Status.FAILED, str(exc)
    explanation.computed_at = timezone.now()
    explanation.save()
    return explanation


def _enqueue_explanation(task, placement_id: int) -> None:
    """Send the EBM job; with the broker down, say so on the explanation instead of failing the request."""
    from kombu.exceptions import OperationalError as BrokerError

    try:
        task.delay(placement_id)
    except BrokerError:
        PlacementExplanation.objects.filter(placement_id=placement_id).update(
            status=PlacementExplanation.Status.FAILED,
            error="The job queue is unavailable; ask again with refresh=1 once it is back.")


def explanation_for(*, placement: Placement, refresh: bool = False) -> dict[str, Any]:
    """The cached explanation; starts a job when there is none yet or a refresh is asked for.

    One fit per placement at a time: a refresh claims the row (pending, with the time it was asked) in
    one UPDATE, and only the caller whose UPDATE changed it sends a job. Anyone asking while a fit is
    pending gets the last result with status "pending" and a `detail` saying so. A fit pending for
    longer than FIT_STALE_S is taken for lost and may be asked again.
    """
    from .tasks import explain_placement_task

    explanation, created = PlacementExplanation.objects.get_or_create(placement=placement)
    detail = None
    if created or refresh:
        now = timezone.now()
        claimed = PlacementExplanation.objects.filter(pk=explanation.pk).exclude(
            status=PlacementExplanation.Status.PENDING, requested_at__gt=now - timedelta(seconds=FIT_STALE_S),
        ) if not created else PlacementExplanation.objects.filter(pk=explanation.pk)
        if claimed.update(status=PlacementExplanation.Status.PENDING, requested_at=now):
            transaction.on_commit(lambda: _enqueue_explanation(explain_placement_task, placement.id))
        else:
            detail = "A fit of this placement is already running; this is the last result. Ask again later."
        explanation.refresh_from_db()
    body = {"placement": placement.slug, "status": explanation.status, "rows": explanation.rows,
            "computed_at": explanation.computed_at.isoformat() if explanation.computed_at else None,
            "error": explanation.error or None, **(explanation.result or {})}
    if detail is not None:
        body["detail"] = detail
    return body

