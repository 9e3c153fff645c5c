"""Training rows from decisions ⨝ impressions (label = clicked), LightGBM and logistic regression rankers.

Rows are ordered by time and split 70/15/15 into train / validation (early stopping) / holdout (the
metrics stored in the registry), so the model is judged on traffic that came after what it learnt from.
Rows served by a non-uniform policy are re-weighted towards the uniform one by clipped inverse propensity.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import interaction_log
from creative.models import StyleVariant

from . import features as F
from .feature_columns import ColumnBuilder, FeatureColumns
from .gate import champion_numbers
from .models import ModelVersion

TRAIN_SHARE, VALID_SHARE = 0.70, 0.15
MIN_CLICKS_HINT = 200  # clicks below which a model rarely beats predicting the mean click rate (see docs)


class TrainingError(Exception):
    """Not enough (or unusable) data to train."""


@dataclass
class TrainingData:
    feature_rows: Sequence[dict[str, Any]]  # a list of dicts, or FeatureColumns when read from the log
    variant_ids: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    times: list[datetime]
    tags_by_variant: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    immature_dropped: int = 0  # rows younger than the click window that were left out
    immature_kept: int = 0  # young rows used anyway because too few older ones remained
    # variant id → (placement slug, surface): the general model's placement and surface features
    context_by_variant: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    # How the rows were read: the sampling rule when the log exceeded KALEIDO_TRAINING_MAX_ROWS, and the counts.
    sampling: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def ips_weight(*, bucket: str, propensity: float | None, candidates: int, clip: float) -> float:
    """Weight that turns this row's serving policy into the uniform one; uniform rows weigh 1.

    The rule is `analytics.importance` (shared with attribution and OPE); a row without a usable
    propensity is kept unweighted."""
    from analytics import importance

    return importance.uniform_weight(propensity=propensity, candidates=candidates, uniform=bucket == "random",
                                     clip=clip, missing=1.0)


def default_click_window_s() -> float:
    """Seconds after an impression in which its click may still arrive (KALEIDO_CLICK_WINDOW_S)."""
    return float(settings.KALEIDO_CLICK_WINDOW_S)


def collect_rows(*, placement_ids: Sequence[int] | None = None, click_window_s: float | None = None,
                 now: datetime | None = None, min_mature: int = 0, max_rows: int | None = None,
                 chunk_rows: int | None = None) -> TrainingData:
    """Logged impressions with their decision's features and whether they were clicked, in time order.

    Label maturity: a decision younger than the click window may still get its click, so its impressions
    are left out altogether (keeping only its early clicks would bias the click rate up) as long as at
    least `min_mature` older rows remain. A log that is nearly all that young (a demo, a test, a
    system switched on minutes ago) is used whole, and `immature_kept` says how many rows were young.

    Streamed: the log is read `chunk_rows` impressions at a time (KALEIDO_TRAINING_CHUNK_ROWS) and each
    chunk is encoded into numpy columns (ranking.feature_columns) before the next is read, so memory is
    the arrays plus one chunk, never a dict per impression. At most `max_rows` (KALEIDO_TRAINING_MAX_ROWS;
    0: no cap) are read: the most recent impressions (by impression time) of the rows that would be used;
    `sampling` on the result states the rule and the counts.
    """
    window = default_click_window_s() if click_window_s is None else click_window_s
    cap = settings.KALEIDO_TRAINING_MAX_ROWS if max_rows is None else max_rows
    limit = int(cap) if cap and cap > 0 else None
    chunk = int(chunk_rows or settings.KALEIDO_TRAINING_CHUNK_ROWS)
    cutoff = (now or timezone.now()) - timedelta(seconds=window) if window > 0 else None
    read = _read_log(placement_ids, decided_until=cutoff, limit=limit, chunk_rows=chunk)
    dropped = kept = 0
    decided_until = cutoff
    if cutoff is not None:
        if len(read.keep) >= max(min_mature, 1):
            dropped = interaction_log.young_impressions_count(placement_ids=placement_ids, decided_after=cutoff)
        else:  # too few mature rows: the whole log, young rows included
            read = _read_log(placement_ids, decided_until=None, limit=limit, chunk_rows=chunk)
            decided_until = None
            kept = int((read.micros[read.keep] > _micros(cutoff)).sum())
    order = read.keep
    capped = limit is not None and read.read == limit
    sampling: dict[str, Any] = {
        "rule": SAMPLING_RULE if capped else "none: every impression",
        "max_rows": limit, "chunk_rows": chunk, "chunks": read.chunks, "rows_read": read.read, "rows": int(len(order)),
        "rows_available": (interaction_log.impressions_available(placement_ids=placement_ids,
                                                                 decided_until=decided_until)
                           if capped else read.read),
    }
    vids = read.variant_ids[order]
    variant_rows = StyleVariant.objects.filter(id__in=set(vids.tolist())).values_list(
        "id", "tags", "placement__slug", "placement__surface")
    tags = {vid: t for vid, t, _, _ in variant_rows}
    contexts = {vid: (slug, surface) for vid, _, slug, surface in variant_rows}
    return TrainingData(
        feature_rows=read.columns.finish(order),
        variant_ids=vids, positions=read.positions[order], labels=read.labels[order], weights=read.weights[order],
        times=[_EPOCH + timedelta(microseconds=m) for m in read.micros[order].tolist()],
        tags_by_variant=tags, immature_dropped=dropped, immature_kept=kept, context_by_variant=contexts,
        sampling=sampling,
    )


SAMPLING_RULE = ("most recent: the KALEIDO_TRAINING_MAX_ROWS most recent impressions (by impression time) of the "
                 "rows training would use; older ones are left out, weights unchanged")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass
class _LogRead:
    """What one streamed read of the log kept, as arrays in the order read (most recent first), and `keep`:
    the indices of the rows training uses (each (decision, variant)'s first impression), in time order."""
    columns: ColumnBuilder
    variant_ids: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    micros: np.ndarray  # decision time, microseconds since the epoch
    keep: np.ndarray
    read: int  # impressions read (repeats included)
    chunks: list[int]  # impressions per chunk fetched


def _read_log(placement_ids: Sequence[int] | None, *, decided_until: datetime | None, limit: int | None,
              chunk_rows: int) -> _LogRead:
    from analytics import importance

    clip = settings.KALEIDO_IPS_CLIP
    columns = ColumnBuilder()
    parts: list[tuple[np.ndarray, ...]] = []
    chunks: list[int] = []
    for rows in interaction_log.training_impressions(placement_ids=placement_ids, decided_until=decided_until,
                                                     limit=limit, chunk_rows=chunk_rows):
        chunks.append(len(rows))
        columns.add([F.row_features(r[1], r[2]) for r in rows])
        decision = np.frombuffer(b"".join(r[0].bytes for r in rows), dtype=">u8").reshape(-1, 2).astype(np.uint64)
        # The weight uses the bucket that served the row and the propensity its decision stored (ips_weight).
        weights = importance.uniform_weights(
            np.array([np.nan if r[7] is None else r[7] for r in rows], dtype=np.float64),
            np.array([r[8] for r in rows], dtype=np.float64),
            uniform_rows=np.array([r[6] == "random" for r in rows], dtype=bool), clip=clip, missing=1.0)
        parts.append((
            decision[:, 0], decision[:, 1], np.array([r[3] for r in rows], dtype=np.int64),
            np.array([r[4] for r in rows], dtype=np.float64), np.array([r[10] for r in rows], dtype=np.float64),
            weights, np.array([_micros(r[5]) for r in rows], dtype=np.int64),
            np.array([r[9] for r in rows], dtype=np.int64),
        ))
    high, low, vids, positions, labels, weights, micros, seq = (
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=dtype)
        for i, dtype in enumerate((np.uint64, np.uint64, np.int64, np.float64, np.float64, np.float64, np.int64,
                                   np.int64)))
    # One row per (decision, variant): its first impression stored; then decision time, storage order.
    by_key = np.lexsort((seq, vids, low, high))
    first = np.ones(len(by_key), dtype=bool)
    if len(by_key):
        first[1:] = ((high[by_key][1:] != high[by_key][:-1]) | (low[by_key][1:] != low[by_key][:-1])
                     | (vids[by_key][1:] != vids[by_key][:-1]))
    keep = by_key[first]
    keep = keep[np.lexsort((seq[keep], micros[keep]))]
    return _LogRead(columns=columns, variant_ids=vids, positions=positions, labels=labels, weights=weights,
                    micros=micros, keep=keep, read=len(vids), chunks=chunks)


def build_spec(rows: Sequence[Mapping[str, Any]], **spec_options: Any) -> dict[str, Any]:
    """features.build_spec on the training rows, dicts or streamed columns (the same counts either way)."""
    if isinstance(rows, FeatureColumns):
        kinds, values, numbers = rows.counts()
        return F.spec_from_counts(kinds=kinds, values=values, numbers=numbers, **spec_options)
    return F.build_spec(feature_rows=rows, **spec_options)


def user_codes(spec: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """features.user_codes on dicts or streamed columns."""
    return rows.user_codes(spec) if isinstance(rows, FeatureColumns) else F.user_codes(spec, rows)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed − predicted| click rate over the equal-count bins of `calibration_curve`, weighted
    by each bin's rows: the same bins the registry page draws (fixed-width bins put nearly every row of a
    low click rate in the first bin and hid miscalibration inside it)."""
    curve = calibration_curve(p, y, bins)
    total = sum(b["count"] for b in curve)
    return float(sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in curve) / total) if total else 0.0


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


def logloss_gain(y: np.ndarray, p: np.ndarray, base: float) -> tuple[float | None, float | None]:
    """Mean per-row log-loss gain of `p` over the constant `base` on (y), and its standard error (paired:
    the same rows), so the gate can tell a real gain from the noise of a small holdout."""
    if len(y) < 2:
        return None, None
    q = np.clip(p, 1e-7, 1 - 1e-7)
    b = min(max(base, 1e-7), 1 - 1e-7)
    d = -(y * np.log(b) + (1 - y) * np.log(1 - b)) + (y * np.log(q) + (1 - y) * np.log(1 - q))
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def split_indices(n: int) -> tuple[slice, slice, slice]:
    a, b = int(n * TRAIN_SHARE), int(n * (TRAIN_SHARE + VALID_SHARE))
    return slice(0, a), slice(a, b), slice(b, n)


# LightGBM candidates tried on the validation split; the one with the lowest calibrated validation log
# loss (next to the logistic-regression candidates) is kept. Chosen once on the bench's worlds, never per world.
LGB_CANDIDATES: dict[str, dict[str, Any]] = {
    # Three leaves: each tree is one user split and one tag split, the shape of a user × tag preference.
    "lgb-pairs": {"num_leaves": 3, "learning_rate": 0.1, "lambda_l2": 1.0, "min_data_in_leaf_per": 2000},
    # Shallow trees: a few user × tag interactions at once.
    "lgb-shallow": {"num_leaves": 7, "learning_rate": 0.05, "lambda_l2": 1.0, "min_data_in_leaf_per": 2000},
}
# Tried and dropped: 31 leaves with stronger L2 and feature fraction 0.7 ("lgb-interactions"): chosen in 1
# of 20 bench worlds, within a point of the shallow trees there, and the slowest candidate to fit.
SELECTION_SE = 1.0  # a candidate within this many standard errors of the best is as good (one-SE rule)
# c: inverse L2 strength; variant_scale: the per-variant quality term's scale (0: none), see fit_logreg.
class LogregSettings(TypedDict):
    c: float
    variant_scale: float


LOGREG_CANDIDATES: dict[str, LogregSettings] = {
    "logreg-C0.05": {"c": 0.05, "variant_scale": 0.0},
    # With a per-variant quality term: prior sd √C·scale ≈ 0.14 and 0.2 on the log-odds.
    "logreg-C0.02+quality": {"c": 0.02, "variant_scale": 1.0},
    "logreg-C0.01+quality": {"c": 0.01, "variant_scale": 2.0},
}


def lgb_params(n: int, overrides: dict[str, Any] | None = None, threads: int | None = None) -> dict[str, Any]:
    o = dict(overrides or {})
    per = o.pop("min_data_in_leaf_per", 2000)
    params = {
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 7 if n < 50_000 else 31,
        "min_data_in_leaf": max(20, n // per),
        "lambda_l2": 1.0, "feature_fraction": 0.9, "cat_smooth": 10, "max_cat_to_onehot": 8,
        "min_data_per_group": 20, "metric": "binary_logloss", "verbose": -1, "seed": 7, "deterministic": True,
        "num_threads": threads or settings.KALEIDO_TRAIN_THREADS,
    }
    params.update(o)
    return params


def fit_lightgbm(*, x: np.ndarray, y: np.ndarray, w: np.ndarray, spec: dict, threads: int | None = None,
                 overrides: dict[str, Any] | None = None, rows: slice | None = None,
                 rounds: int | None = None) -> tuple[Any, dict]:
    """LightGBM binary with native categoricals; early stopping on the time-ordered validation part, or
    (refit) exactly `rounds` rounds on `rows`."""
    import lightgbm as lgb

    tr, va, _ = split_indices(len(y))
    params = lgb_params(len(y), overrides, threads)
    # LightGBM refuses ':' and other JSON characters in names; the readable names live in the spec.
    names = [f"f{i}" for i in range(x.shape[1])]
    cats = F.categorical_indices(spec)
    client = dask_client()
    if client is not None:
        return _fit_lightgbm_on_dask(client, params, x=x, y=y, w=w, names=names, cats=cats, rows=rows, rounds=rounds)
    if rounds is not None:
        fit = rows or tr
        booster = lgb.train(params, lgb.Dataset(x[fit], y[fit], weight=w[fit], feature_name=names,
                                                categorical_feature=cats), num_boost_round=rounds)
        params["best_iteration"] = rounds
        return booster, params
    dtrain = lgb.Dataset(x[tr], y[tr], weight=w[tr], feature_name=names, categorical_feature=cats,
                         free_raw_data=False)
    dvalid = lgb.Dataset(x[va], y[va], weight=w[va], reference=dtrain)
    booster = lgb.train(params, dtrain, num_boost_round=MAX_ROUNDS, valid_sets=[dvalid],
                        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)])
    params["best_iteration"] = int(booster.best_iteration or booster.current_iteration())
    return booster, params


MAX_ROUNDS, PATIENCE = 600, 40  # boosting rounds at most; early stopping after this many without a gain
_dask_clients: dict[str, Any] = {}


DASK_CONNECT_TIMEOUT_S = 10.0


def dask_client(*, timeout_s: float = DASK_CONNECT_TIMEOUT_S) -> Any:
    """A distributed.Client on KALEIDO_DASK_SCHEDULER (one per address and process), or None: fit locally.

    A configured scheduler that cannot be reached within timeout_s is a TrainingError naming it: a fit that
    fell back to this process unannounced could exhaust a web or beat worker sized for the cluster's job."""
    address = settings.KALEIDO_DASK_SCHEDULER
    if not address:
        return None
    client = _dask_clients.get(address)
    if client is None or client.status != "running":
        from distributed import Client

        try:
            client = Client(address, set_as_default=False, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise TrainingError(
                f"The Dask scheduler at {address} (KALEIDO_DASK_SCHEDULER) could not be reached within "
                f"{timeout_s:g} s ({exc.__class__.__name__}: {exc}). Start it, or unset KALEIDO_DASK_SCHEDULER "
                "to train in this process.") from exc
        _dask_clients[address] = client
    return client


def _fit_lightgbm_on_dask(client: Any, params: dict[str, Any], *, x: np.ndarray, y: np.ndarray, w: np.ndarray,
                          names: list[str], cats: list[int], rows: slice | None, rounds: int | None
                          ) -> tuple[Any, dict]:
    """fit_lightgbm on the cluster (lightgbm.dask, data-parallel over its workers) with the same parameters.

    lightgbm.dask has no early stopping (each worker would judge its own part of the validation rows), so
    the forest is grown to MAX_ROUNDS and cut where lgb.early_stopping would have stopped: the validation
    log loss (weighted, as LightGBM's metric) tree by tree, the best round before PATIENCE rounds without
    a gain."""
    import dask.array as da
    import lightgbm as lgb

    tr, va, _ = split_indices(len(y))
    fit = rows or tr if rounds is not None else tr
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    xs, ys, ws = x[fit], y[fit], w[fit]
    part = max(1, math.ceil(len(ys) / workers))
    # Threads are each worker's own (lightgbm.dask ignores num_threads); every other parameter is the same.
    same = {k: v for k, v in params.items() if k != "num_threads"}
    model = lgb.DaskLGBMClassifier(client=client, n_estimators=rounds or MAX_ROUNDS, **same)
    with warnings.catch_warnings():  # the estimator's own n_jobs default, which lightgbm.dask replaces
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(da.from_array(xs, chunks=(part, xs.shape[1])), da.from_array(ys, chunks=part),
                  sample_weight=da.from_array(ws, chunks=part), feature_name=names, categorical_feature=cats)
    booster = model.to_local().booster_
    best = rounds or _early_stopped_round(booster, x[va], y[va], w[va])
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    booster.best_iteration = best
    params = {**params, "best_iteration": best,
              "distributed": {"engine": "lightgbm.dask", "scheduler": settings.KALEIDO_DASK_SCHEDULER,
                              "workers": workers}}
    return booster, params


def _early_stopped_round(booster: Any, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> int:
    """The round lgb.early_stopping(PATIENCE) keeps: the first with the lowest weighted validation log loss,
    looking no further than PATIENCE rounds past the best."""
    raw = np.zeros(len(y))
    best, best_loss = 1, math.inf
    for i in range(booster.num_trees()):
        raw += booster.predict(x, raw_score=True, start_iteration=i, num_iteration=1)
        loss = weighted_logloss(y, 1 / (1 + np.exp(-raw)), w)
        if loss < best_loss:
            best, best_loss = i + 1, loss
        elif i + 1 - best >= PATIENCE:
            break
    return best


def fit_logreg(*, users: np.ndarray, tags: np.ndarray, positions: np.ndarray, y: np.ndarray, w: np.ndarray,
               spec: dict, c: float = 0.5, vcodes: np.ndarray | None = None, variant_scale: float = 0.0,
               rows: slice | None = None) -> dict:
    """Logistic regression on user features (numbers also binned), tags and every user-feature × tag cross
    (in the general model the placement and surface join the user side, so they cross with every tag),
    fitted on `rows` (the training split).

    variant_scale > 0 adds a per-variant quality term (one indicator per looked-up variant, scaled by
    variant_scale, so its L2 shrinkage is variant_scale² times weaker than C's): the part of a variant's
    click rate its tags do not explain, pulled towards 0 for variants with few impressions."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    tr = rows or split_indices(len(y))[0]
    scaling = {}
    for col_index, f in enumerate(spec["user"]):
        if f["kind"] == "num":
            col = users[tr, col_index]
            col = col[~np.isnan(col)]
            scaling[f["name"]] = [float(col.mean()) if len(col) else 0.0, float(col.std()) if len(col) else 1.0]
    u = F.logreg_user_matrix(spec, users[tr], scaling)
    u = np.hstack([u, F.logreg_context(spec, None if vcodes is None else vcodes[tr], len(u))])
    t = tags[tr]
    design = F.logreg_design(u, t, positions[tr])
    nu, nt = u.shape[1], t.shape[1]
    with_variant = variant_scale > 0 and vcodes is not None and spec.get("variant_ids")
    if with_variant and vcodes is not None:
        design = sparse.hstack([design, F.variant_onehot(spec, vcodes[tr], variant_scale)], format="csr")
    model = LogisticRegression(C=c, max_iter=400)
    model.fit(design, y[tr], sample_weight=w[tr])
    coef = model.coef_[0]
    out = {
        "intercept": float(model.intercept_[0]),
        "w_user": coef[:nu].tolist(),
        "w_tags": coef[nu:nu + nt].tolist(),
        "w_cross": coef[nu + nt:nu + nt + nu * nt].reshape(nu, nt).tolist(),
        "w_position": float(coef[nu + nt + nu * nt]),
        "scaling": scaling,
    }
    if with_variant:  # stored as the effect on the log-odds (indicator 1), aligned with spec["variant_ids"]
        out["w_variant"] = (coef[nu + nt + nu * nt + 1:] * variant_scale).tolist()
    return out


# Prior sd (log-odds) of the per-variant quality LightGBM candidates may add on top of their trees; None: no
# quality term. Chosen on the validation split with the rest of the candidate, never per world.
VARIANT_QUALITY_SD: tuple[float | None, ...] = (None, 0.15, 0.3)


def variant_effect_sd(candidate: str, params: Mapping[str, Any]) -> float:
    """The prior sd (log-odds) of a variant's own effect beyond its tags that the chosen candidate assumed:
    its quality term's, or the smallest one considered when validation chose none (the data showed no
    effect it could learn). Thompson sampling draws each variant's effect from this prior updated by the
    variant's impressions (ranking.policy.posterior_sd), so the model's own evidence sets how much the
    model bucket explores."""
    smallest = min(sd for sd in VARIANT_QUALITY_SD if sd is not None)
    if candidate in LOGREG_CANDIDATES:
        settings_ = LOGREG_CANDIDATES[candidate]
        scale = float(settings_.get("variant_scale", 0.0))
        return round(math.sqrt(settings_["c"]) * scale, 4) if scale > 0 else smallest
    sd = params.get("variant_quality_sd")
    return float(sd) if sd is not None else smallest


def fit_variant_offsets(logit: np.ndarray, y: np.ndarray, w: np.ndarray, codes: np.ndarray, n_ids: int,
                        prior_sd: float) -> np.ndarray:
    """Per-variant quality on top of a model's log-odds: the maximum a posteriori intercept of each variant
    (prior N(0, prior_sd²)) given the model's predictions, by Newton's method. A variant with few
    impressions stays near 0; one with many gets what its clicks say beyond its tags."""
    ok = ~np.isnan(codes)
    c, f, yy, ww = codes[ok].astype(int), logit[ok], y[ok], w[ok]
    precision = 1.0 / prior_sd ** 2
    b = np.zeros(n_ids)
    for _ in range(20):
        q = 1.0 / (1.0 + np.exp(-(f + b[c])))
        grad = np.bincount(c, weights=ww * (q - yy), minlength=n_ids) + precision * b
        hess = np.bincount(c, weights=ww * q * (1 - q), minlength=n_ids) + precision
        step = grad / hess
        b -= step
        if np.abs(step).max() < 1e-6:
            break
    return b


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


PLATT_SHRINKAGE = 2.0  # prior precision of the Platt slope (in weighted rows of log loss), towards a constant


def platt(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
          shrinkage: float = PLATT_SHRINKAGE) -> tuple[float, float]:
    """(slope, intercept) on the log-odds scale that calibrate p on (y, w); identity without both classes.

    Regularised: the fit is logit' = m + a·(logit − mean logit) + b with a Gaussian prior on the slope a
    (precision `shrinkage`, weights scaled to mean 1) pulling it towards 0, the constant click rate, and b
    free. With many validation clicks the data decide; with a handful the slope shrinks, so a model fitted
    on little data is not made overconfident by a slope fitted to noise (the unregularised fit, C = 1e4,
    put small-data models above the baseline's log loss). Newton's method on the two parameters.
    """
    y = np.asarray(y, dtype=np.float64)
    if not 0 < y.sum() < len(y):
        return 1.0, 0.0
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    w = w * (len(w) / w.sum())
    z = _logit(p)
    centre = float(np.average(z, weights=w))
    zc = z - centre
    a, b = 1.0, float(_logit(np.array([np.average(y, weights=w)]))[0]) - centre
    for _ in range(100):
        q = 1.0 / (1.0 + np.exp(-(a * zc + centre + b)))
        r, h = w * (q - y), w * q * (1 - q)
        grad = np.array([r @ zc + shrinkage * a, r.sum()])
        hess = np.array([[h @ (zc * zc) + shrinkage, h @ zc], [h @ zc, h.sum() + 1e-9]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    if not np.isfinite(a) or not np.isfinite(b) or a <= 0:  # never invert the ranking: a constant is honest
        return 0.0, float(_logit(np.array([np.average(y, weights=w)]))[0])
    return float(a), float(centre + b - a * centre)


def weighted_logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.average(y * np.log(p) + (1 - y) * np.log(1 - p), weights=w))


@dataclass
class Fitted:
    """A trained, calibrated ranker not yet in the registry: what `train` stores and the bench scores."""
    algo: str
    spec: dict[str, Any]
    model: Any  # registry.LoadedModel
    artefact: bytes
    suffix: str
    params: dict[str, Any]
    metrics: dict[str, float | None]
    baseline_logloss: float | None
    holdout: dict[str, Any]  # arrays, and the holdout's feature rows and times as lists


def choose_candidate(considered: Sequence[tuple]) -> tuple:
    """One-standard-error rule on the validation split: the first candidate (in the fixed order, simpler
    first; a LightGBM candidate before its quality-offset variants) whose calibrated log loss is within
    SELECTION_SE paired standard errors of the best one's. `considered`: (loss, label, fitted, params,
    calibration, per-row losses) tuples; returns the chosen one's first five."""
    return _one_se_choice(considered)[:5]


def _one_se_choice(considered: Sequence[tuple]) -> tuple:
    best = min(considered, key=lambda c: c[0])
    for candidate in considered:
        if _as_good(candidate[5], best[5]):
            return candidate
    return best


def _valid_loss(logit: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    q = np.clip(1 / (1 + np.exp(-logit)), 1e-7, 1 - 1e-7)
    row_loss = -(y * np.log(q) + (1 - y) * np.log(1 - q)) * (w / w.mean())
    return float(row_loss.mean()), row_loss


# The blend averages the calibrated log-odds of the best tree candidate and the best logistic regression:
# trees find thresholds and a few strong interactions, the regression spreads small user × tag crosses over
# every pair; each one's errors are partly the other's strengths. Equal weights (a weight fitted on the
# validation split would overfit it on small logs).
BLEND_WEIGHT = 0.5  # the logistic regression's share of the blended log-odds


def blend_candidate(considered: Sequence[tuple], raw_valid: Mapping[str, np.ndarray], y: np.ndarray,
                    w: np.ndarray) -> dict[str, Any] | None:
    """The blend of the LightGBM and the logistic-regression candidate with the lowest validation loss of
    their kind, with its own Platt calibration of the averaged log-odds and its calibrated validation loss;
    None without both kinds. (Each kind's one-standard-error choice instead was measured too and did worse
    on the learning bench: 71% against 73% median; docs/ranking.md.)"""
    trees = [c for c in considered if c[3].get("base") in LGB_CANDIDATES]
    linear = [c for c in considered if c[3].get("base") in LOGREG_CANDIDATES]
    if not trees or not linear:
        return None
    tree, lin = min(trees, key=lambda c: c[0]), min(linear, key=lambda c: c[0])
    (s1, b1), (s2, b2) = tree[4], lin[4]
    z = (1 - BLEND_WEIGHT) * (s1 * raw_valid[tree[1]] + b1) + BLEND_WEIGHT * (s2 * raw_valid[lin[1]] + b2)
    cal = platt(y, 1 / (1 + np.exp(-z)), w)
    loss, row_loss = _valid_loss(cal[0] * z + cal[1], y, w)
    return {"label": f"blend({tree[1]}, {lin[1]})", "loss": loss, "row_loss": row_loss, "tree": tree, "linear": lin,
            "calibration": cal}


def _as_good(row_loss: np.ndarray, other: np.ndarray) -> bool:
    """Whether a validation loss is within SELECTION_SE paired standard errors of another's (or below it)."""
    d = row_loss - other
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()) <= SELECTION_SE * se


def blend_spec(blend: Mapping[str, Any], tree_offsets: np.ndarray) -> dict[str, Any]:
    """What a blended model's spec adds (registry.LoadedModel.predict_matrix reads it): the tree part's
    calibration, the regression's coefficients with its calibration folded in, and one per-variant term
    on the blend's scale (the trees' quality offsets and the regression's per-variant quality together),
    which replaces `variant_offset` so the design matrix's quality column carries it."""
    s1, b1 = blend["tree"][4]
    s2, b2 = blend["linear"][4]
    coef = dict(blend["linear"][2])
    variant = np.asarray(coef.pop("w_variant", None) or np.zeros(len(tree_offsets)), dtype=np.float64)
    linear = {**coef, "intercept": s2 * coef["intercept"] + b2, "w_user": [s2 * v for v in coef["w_user"]],
              "w_tags": [s2 * v for v in coef["w_tags"]], "w_cross": [[s2 * v for v in row] for row in coef["w_cross"]],
              "w_position": s2 * coef["w_position"]}
    combined = (1 - BLEND_WEIGHT) * s1 * np.asarray(tree_offsets, dtype=np.float64) + BLEND_WEIGHT * s2 * variant
    return {"blend": {"weight": BLEND_WEIGHT, "tree_calibration": [float(s1), float(b1)], "linear": linear},
            "variant_offset": [round(float(v), 6) for v in combined]}


def _refit_rows(n: int) -> slice:
    """Train + validation: the chosen candidate is refitted on both once the choice is made."""
    _, va, _ = split_indices(n)
    return slice(0, va.stop)


def fit_ranker(data: TrainingData, *, algo: str = "auto", variant_tags: Sequence[Mapping] = (),
               use_variant_id: bool = False, threads: int | None = None, general: bool = False,
               variant_context: Mapping[int, tuple[str | None, str | None]] | None = None,
               refit: bool = False) -> Fitted:
    """Fit every candidate of `algo` (auto: LightGBM and logistic regression) on the training split, keep
    the one the validation split prefers (calibrated log loss, one-standard-error rule; Platt, shrunk: see
    `platt`) and measure the holdout, which neither fit nor calibration saw. refit=True refits the chosen
    candidate on train + validation with the same settings (LightGBM: the early-stopped rounds scaled to
    the rows) under the calibration fitted for the train-only fit; off by default, because that
    calibration does not transfer: more rounds on more rows change the forest's confidence (on the demo's
    banner the refit's holdout log loss was 0.3766 against 0.3684 without it, and the bench gained about a
    point of lift at most). Vocabularies and bins come from
    the training split only; scoring goes through registry.LoadedModel, the same object serving uses.

    general: the model serves every placement, so each variant's placement and surface are features
    (from `data.context_by_variant` and `variant_context`, the live variants').
    """
    from . import registry

    n = len(data)
    tr, va, ho = split_indices(n)
    all_tags = list(data.tags_by_variant.values()) + list(variant_tags)
    train_ids = set(data.variant_ids[tr].tolist())
    context = None
    vocabulary: list[tuple[str | None, str | None]] = []
    if general:
        context = {**(variant_context or {}), **(data.context_by_variant or {})}
        vocabulary = [context.get(v, (None, None)) for v in train_ids]
    spec = build_spec(data.feature_rows[tr], variant_tags=all_tags,
                      variant_ids=set(data.variant_ids.tolist()) if use_variant_id else train_ids,
                      variant_column=use_variant_id, variant_context=context, context_vocabulary=vocabulary)
    users = user_codes(spec, data.feature_rows)
    unique_ids = sorted(set(data.variant_ids.tolist()))
    tag_rows = F.tag_matrix(spec, [data.tags_by_variant.get(v) for v in unique_ids])
    tags = tag_rows[np.searchsorted(unique_ids, data.variant_ids)]
    vcodes = F.variant_codes(spec, data.variant_ids.tolist())
    y, w, pos = data.labels, data.weights, data.positions
    x: np.ndarray | None = None  # the trees' matrix, built for the first LightGBM candidate
    tried: list[dict[str, Any]] = []
    n_ids = len(spec["variant_ids"] or [])
    lgb_spec = {**spec, "variant_offset": [0.0] * n_ids}  # the trees train with the quality column at 0
    names = []
    if algo in ("auto", ModelVersion.Algo.LIGHTGBM):
        names += list(LGB_CANDIDATES)
    if algo in ("auto", ModelVersion.Algo.LOGREG):
        names += list(LOGREG_CANDIDATES)

    considered: list[tuple[float, str, Any, dict, tuple[float, float], np.ndarray]] = []
    raw_valid: dict[str, np.ndarray] = {}  # each candidate's uncalibrated validation log-odds, for the blend

    def consider(label: str, p_va: np.ndarray, fitted: Any, params: dict) -> None:
        cal = platt(y[va], p_va, w[va])
        raw_valid[label] = _logit(p_va)
        loss, row_loss = _valid_loss(cal[0] * raw_valid[label] + cal[1], y[va], w[va])
        tried.append({"candidate": label, "valid_logloss": loss})
        considered.append((loss, label, fitted, params, cal, row_loss))

    for name in names:
        if name in LGB_CANDIDATES:
            if x is None:
                x = F.lgb_matrix(lgb_spec, users=users, tags=tags, variant_codes_=vcodes, positions=pos)
            booster, params = fit_lightgbm(x=x, y=y, w=w, spec=lgb_spec, threads=threads,
                                           overrides=LGB_CANDIDATES[name])
            raw_tr = booster.predict(x[tr], raw_score=True, num_threads=threads or settings.KALEIDO_TRAIN_THREADS)
            raw_va = booster.predict(x[va], raw_score=True, num_threads=threads or settings.KALEIDO_TRAIN_THREADS)
            for sd in VARIANT_QUALITY_SD if n_ids else (None,):
                offsets = np.zeros(n_ids) if sd is None else fit_variant_offsets(raw_tr, y[tr], w[tr], vcodes[tr],
                                                                                  n_ids, sd)
                logit_va = raw_va + F.variant_offsets({"variant_offset": offsets}, vcodes[va])
                label = name if sd is None else f"{name}+quality{sd:g}"
                consider(label, 1 / (1 + np.exp(-logit_va)), (booster, offsets),
                         {**params, "variant_quality_sd": sd, "base": name})
        else:
            settings_ = LOGREG_CANDIDATES[name]
            coef = fit_logreg(users=users, tags=tags, positions=pos, y=y, w=w, spec=spec, vcodes=vcodes, **settings_)
            params = {**settings_, "C": settings_["c"], "crosses": "user × tag", "bins": F.NUMBER_BINS, "base": name}
            probe = registry.LoadedModel(version="-", algo=ModelVersion.Algo.LOGREG, spec=spec,  # type: ignore[arg-type]
                                         coef=coef)
            consider(name, probe.predict(users=users[va], tags=tags[va], vcodes=vcodes[va], positions=pos[va]),
                     coef, params)
    if not considered:
        raise TrainingError(f"Unknown algorithm '{algo}' (use auto, lightgbm or logreg).")
    chosen = choose_candidate(considered)
    blend: dict[str, Any] | None = None
    rule = settings.KALEIDO_TRAINING_BLEND
    if algo == "auto" and not general and not refit and rule != "off":
        found = blend_candidate(considered, raw_valid, y[va], w[va])
        if found is not None:
            tried.append({"candidate": found["label"], "valid_logloss": found["loss"]})
            chosen_rows = next(c[5] for c in considered if c[1] == chosen[1])
            if rule == "always" or _as_good(found["row_loss"], chosen_rows):  # unless validation says it is worse
                blend = found
                chosen = (found["loss"], found["label"], found["tree"][2], dict(found["tree"][3]), found["calibration"])
    _, name, fitted, params, (slope, intercept) = chosen
    base_name = params.pop("base")
    params = {**params, "candidate": name, "candidates": tried, "calibration_platt": [slope, intercept],
              "refit": "train+validation" if refit else "train"}
    # Refit on train + validation: 15% more (and the most recent) rows. The calibration fitted on the
    # validation split for the train-only fit is kept: same settings, so the same shape of over-/under-
    # confidence, and the holdout below measures the result honestly.
    lgb_chosen = base_name in LGB_CANDIDATES
    if lgb_chosen:
        booster, offsets = fitted
        assert x is not None  # built when the first LightGBM candidate was considered
        if refit:
            rows = _refit_rows(n)
            rounds = max(1, int(round(params["best_iteration"] * rows.stop / max(tr.stop, 1))))
            booster, _ = fit_lightgbm(x=x, y=y, w=w, spec=lgb_spec, threads=threads,
                                      overrides=LGB_CANDIDATES[base_name], rows=rows, rounds=rounds)
            params["best_iteration"] = rounds
            if params["variant_quality_sd"] is not None:
                raw = booster.predict(x[rows], raw_score=True, num_threads=threads or settings.KALEIDO_TRAIN_THREADS)
                offsets = fit_variant_offsets(raw, y[rows], w[rows], vcodes[rows], n_ids, params["variant_quality_sd"])
        fitted = booster
        spec = {**lgb_spec, "variant_offset": [round(float(v), 6) for v in offsets]}
        if blend is not None:
            spec = {**spec, **blend_spec(blend, offsets)}
            params["blend"] = {"tree": blend["tree"][1], "linear": blend["linear"][1], "weight": BLEND_WEIGHT}
    spec = {**spec, "variant_effect_sd": variant_effect_sd(base_name, params)}
    if not lgb_chosen and refit:
        fitted = fit_logreg(users=users, tags=tags, positions=pos, y=y, w=w, spec=spec, vcodes=vcodes,
                            rows=_refit_rows(n), **LOGREG_CANDIDATES[base_name])
    algo_used: str  # TextChoices members are str; without Django's types mypy reads them as (value, label)
    if lgb_chosen:
        algo_used = ModelVersion.Algo.LIGHTGBM  # type: ignore[assignment]
        spec = {**spec, "calibration": [slope, intercept]}
        model = registry.LoadedModel(version="-", algo=algo_used, spec=spec, booster=fitted)
        artefact, suffix = fitted.model_to_string(num_iteration=params["best_iteration"]).encode(), ".txt"
    else:
        algo_used = ModelVersion.Algo.LOGREG  # type: ignore[assignment]
        coef = dict(fitted)  # fold the calibration into the coefficients: one linear predictor
        coef["intercept"] = slope * coef["intercept"] + intercept
        for key in ("w_user", "w_tags", "w_variant"):
            if key in coef:
                coef[key] = [slope * v for v in coef[key]]
        coef["w_cross"] = [[slope * v for v in row] for row in coef["w_cross"]]
        coef["w_position"] = slope * coef["w_position"]
        model = registry.LoadedModel(version="-", algo=algo_used, spec=spec, coef=coef)
        artefact, suffix = json.dumps(coef).encode(), ".json"
    p = model.predict(users=users[ho], tags=tags[ho], vcodes=vcodes[ho], positions=pos[ho])
    metrics = holdout_metrics(y[ho], p)
    # The baseline predicts the validation split's mean click rate: the level the candidate's calibration
    # was fitted to, so the candidate cannot beat it merely by tracking a recent change of the click rate
    # (its gain has to come from ranking users and variants).
    base = float(np.average(y[va], weights=w[va])) if len(y[va]) else (float(np.average(y[tr], weights=w[tr]))
                                                                      if len(y[tr]) else 0.0)
    baseline = holdout_metrics(y[ho], np.full(len(p), base))["logloss"] if len(p) else None
    params["calibration"] = calibration_curve(p, y[ho])  # the holdout's curve, for the registry page
    params["baseline_logloss"] = baseline
    params["logloss_gain"], params["logloss_gain_se"] = logloss_gain(y[ho], p, base)
    params["holdout_clicks"] = int(y[ho].sum())
    params["training_clicks"] = int(y[tr].sum())
    return Fitted(algo=algo_used, spec=spec, model=model, artefact=artefact, suffix=suffix, params=params,
                  metrics=metrics, baseline_logloss=baseline,
                  holdout={"users": users[ho], "tags": tags[ho], "vcodes": vcodes[ho], "positions": pos[ho],
                           "labels": y[ho], "variant_ids": data.variant_ids[ho], "predicted": p,
                           "feature_rows": data.feature_rows[ho], "times": data.times[ho]})


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
    gate: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)  # how the rows were read (collect_rows); stored if empty

    def summary(self) -> dict[str, Any]:
        sampling = self.sampling or (ModelVersion.objects.filter(version=self.model_version)
                                     .values_list("params", flat=True).first() or {}).get("sampling", {})
        return {"model_version": self.model_version, "auc": self.auc, "logloss": self.logloss, "rows": self.rows,
                "activated": self.activated, "gate": self.gate, "sampling": sampling}


def train(*, placement=None, algo: str = "auto", general: bool = False, use_variant_id: bool = False,
          min_rows: int | None = None, click_window_s: float | None = None) -> ModelVersion:
    """Build rows, fit, evaluate on the holdout and register a new (inactive) version."""
    from . import registry

    if algo not in ("auto", *ModelVersion.Algo.values):
        raise TrainingError(f"Unknown algorithm '{algo}' (use auto, lightgbm or logreg).")
    general = general or placement is None
    started = time.perf_counter()
    min_rows = settings.KALEIDO_TRAIN_MIN_ROWS if min_rows is None else min_rows
    data = collect_rows(placement_ids=None if general else [placement.id], click_window_s=click_window_s,
                        min_mature=min_rows)
    clicks = int(data.labels.sum())
    if len(data) < min_rows:
        raise TrainingError(f"Only {len(data)} impressions with decisions ({clicks} clicks); need at least "
                            f"{min_rows} impressions and about {MIN_CLICKS_HINT} clicks for a model to beat "
                            "the mean click rate.")
    if clicks == 0:
        raise TrainingError(f"No clicks in the {len(data)} training impressions yet; a model needs about "
                            f"{MIN_CLICKS_HINT} clicks to beat the mean click rate.")
    live = StyleVariant.objects.filter(status="live")
    if not general:
        live = live.filter(placement=placement)
    live_rows = list(live.values_list("id", "tags", "placement__slug", "placement__surface"))
    fitted = fit_ranker(data, algo=algo, variant_tags=[t for _, t, _, _ in live_rows],
                        use_variant_id=use_variant_id and not general, general=general,
                        variant_context={vid: (slug, surface) for vid, _, slug, surface in live_rows})
    y = data.labels
    ho = fitted.holdout
    if general:
        champion = ModelVersion.objects.filter(is_active=True, scope=ModelVersion.Scope.GENERAL) \
            .values_list("version", flat=True).first()
    else:
        champion = registry.active_version_for(placement.id)
    gate_numbers = {
        "baseline_logloss": fitted.baseline_logloss, "training_clicks": fitted.params["training_clicks"],
        "logloss_gain": fitted.params["logloss_gain"], "logloss_gain_se": fitted.params["logloss_gain_se"],
        "holdout_clicks": fitted.params["holdout_clicks"], "clicks_needed": MIN_CLICKS_HINT,
        "champion": champion_numbers(champion_version=champion, feature_rows=ho["feature_rows"],
                                     variant_ids=ho["variant_ids"], tags_by_variant=data.tags_by_variant,
                                     labels=ho["labels"], times=ho["times"], predicted=ho["predicted"]),
    }
    with transaction.atomic():
        mv = ModelVersion.objects.create(
            version=f"tmp-{time.time_ns()}", placement=None if general else placement,
            scope=ModelVersion.Scope.GENERAL if general else ModelVersion.Scope.DEDICATED,
            algo=fitted.algo, artefact="", artefact_sha256="", feature_spec=fitted.spec,
            params={**fitted.params, "clicks": clicks, "gate": gate_numbers,
                    "immature_dropped": data.immature_dropped, "immature_kept": data.immature_kept,
                    "sampling": data.sampling},
            data_from=data.times[0], data_to=data.times[-1], rows=len(y),
            positive_rate=float(y.mean()), train_seconds=time.perf_counter() - started, **fitted.metrics,
        )
        mv.version = str(mv.pk)
        mv.artefact, mv.artefact_sha256 = registry.write_artefact(version=mv.version, data=fitted.artefact,
                                                                  suffix=fitted.suffix)
        mv.save(update_fields=["version", "artefact", "artefact_sha256"])
    return mv
