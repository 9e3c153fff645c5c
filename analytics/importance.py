"""The importance-weight rule shared by training, attribution and off-policy evaluation.

A logged row was shown with probability `p` by the policy that served it (its logged propensity). To
read the log as if another policy (the target) had served it, each row is weighted by the ratio
target probability / logged propensity, clipped at `KALEIDO_IPS_CLIP` so that a few rows with tiny
propensities cannot dominate (clipping trades a small downward bias for much lower variance).

Towards the uniform policy (training, attribution) the target probability is 1/n for n candidates,
so the ratio is (1/n)/p: a uniformly served row weighs exactly 1, whatever n is. The old rule 1/p
gave every uniform row with n candidates a weight of n, which the clip then flattened for every
row of a large catalogue (3,888 variants), so the "re-weighting" carried no information.

A row without a usable propensity (missing, zero, negative) has no defined weight: callers say what
it gets (`missing`), e.g. NaN to drop it, or 1.0 to keep it unweighted.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings


def default_clip() -> float:
    """The clip every consumer uses unless told otherwise (KALEIDO_IPS_CLIP)."""
    return float(settings.KALEIDO_IPS_CLIP)


def clipped_ratios(target: np.ndarray | float, logged: np.ndarray | float, *, clip: float | None = None,
                   missing: float = np.nan) -> np.ndarray:
    """min(clip, target / logged) per row; `missing` where the logged propensity is not a positive number."""
    clip = default_clip() if clip is None else float(clip)
    target_arr = np.asarray(target, dtype=float)
    logged_arr = np.asarray(logged, dtype=float)
    target_arr, logged_arr = np.broadcast_arrays(target_arr, logged_arr)
    usable = np.isfinite(logged_arr) & (logged_arr > 0)
    ratio = np.divide(target_arr, logged_arr, out=np.full(logged_arr.shape, np.nan), where=usable)
    return np.where(usable, np.minimum(ratio, clip), missing)


def clipped_ratio(target: float, logged: float | None, *, clip: float | None = None,
                  missing: float = np.nan) -> float:
    """Scalar form of `clipped_ratios`."""
    return float(clipped_ratios(target, np.nan if logged is None else logged, clip=clip, missing=missing))


def uniform_weights(propensity: np.ndarray, candidates: np.ndarray, *, uniform_rows: np.ndarray | None = None,
                    clip: float | None = None, missing: float = np.nan) -> np.ndarray:
    """Weights that turn each row's serving policy into the uniform one over its `candidates`.

    `uniform_rows` marks rows known to be served uniformly (the random bucket): they weigh exactly 1
    even if their stored propensity was rounded. A row with no positive candidate count gets `missing`.
    """
    propensity = np.asarray(propensity, dtype=float)
    candidates = np.asarray(candidates, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.where(candidates > 0, 1.0 / candidates, np.nan)
    weights = clipped_ratios(target, propensity, clip=clip, missing=missing)
    weights = np.where(np.isfinite(target), weights, missing)
    if uniform_rows is not None:
        weights = np.where(np.asarray(uniform_rows, dtype=bool), 1.0, weights)
    return weights


def uniform_weight(*, propensity: float | None, candidates: int, uniform: bool = False, clip: float | None = None,
                   missing: float = np.nan) -> float:
    """Scalar form of `uniform_weights`."""
    return float(uniform_weights(np.array([np.nan if propensity is None else propensity]), np.array([candidates]),
                                 uniform_rows=np.array([uniform]), clip=clip, missing=missing)[0])
