"""The statistics behind experiment reports, on plain numpy arrays (vectorised over experiments).

Users are the randomisation unit, so CTR = Σclicks / Σimpressions is a ratio of two per-user
means and its variance comes from the delta method on per-user (clicks, impressions) pairs; a
per-impression binomial interval ignores that one user's impressions are correlated and is too
narrow. Every function here takes sufficient statistics (n, Σy, Σx, Σy², Σx², Σxy) so the same
code serves one report or 500 simulated experiments at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

# A number or an array of them (the functions here are vectorised).
Numeric = float | np.ndarray
Z95 = float(sps.norm.ppf(0.975))
# Mixture parameter of the always-valid intervals, tuned to be tightest near this many users per arm.
CS_PLANNED_USERS = 10_000


@dataclass(frozen=True)
class RatioStats:
    """Sufficient statistics of a ratio metric Σy/Σx over n units (arrays broadcast)."""

    n: np.ndarray
    sy: np.ndarray
    sx: np.ndarray
    syy: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray

    @classmethod
    def from_units(cls, y: np.ndarray, x: np.ndarray, axis: int = -1) -> RatioStats:
        y = np.asarray(y, dtype=float)
        x = np.asarray(x, dtype=float)
        return cls(n=np.asarray(np.sum(np.ones_like(y), axis=axis)), sy=y.sum(axis=axis), sx=x.sum(axis=axis),
                   syy=(y * y).sum(axis=axis), sxx=(x * x).sum(axis=axis), sxy=(x * y).sum(axis=axis))

    def cumsum(self, axis: int = -1) -> RatioStats:
        return RatioStats(*(np.cumsum(v, axis=axis) for v in (self.n, self.sy, self.sx, self.syy, self.sxx,
                                                                 self.sxy)))


def ratio_delta(s: RatioStats) -> tuple[np.ndarray, np.ndarray]:
    """(ratio, variance of the ratio) by the delta method; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.asarray(s.n, dtype=float)
        mx, my = s.sx / n, s.sy / n
        ratio = s.sy / s.sx
        dof = np.maximum(n - 1, 1)
        vy = (s.syy - n * my * my) / dof
        vx = (s.sxx - n * mx * mx) / dof
        cxy = (s.sxy - n * mx * my) / dof
        var = (vy - 2 * ratio * cxy + ratio * ratio * vx) / (n * mx * mx)
        var = np.where(n >= 2, np.maximum(var, 0.0), np.nan)
    return ratio, var


def normal_ci(estimate: Numeric, variance: Numeric, z: float = Z95) -> tuple[Any, Any]:
    se = np.sqrt(variance)
    return estimate - z * se, estimate + z * se


def two_sided_p(estimate: Numeric, variance: Numeric) -> np.ndarray:
    """Fixed-horizon two-sided normal p-value. A nonzero estimate with zero variance (z = ∞) gives 0,
    a zero estimate with zero variance gives 1, and a NaN estimate or variance gives NaN."""
    estimate = np.asarray(estimate, dtype=float)
    variance = np.asarray(variance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(estimate) / np.sqrt(variance)
        p = 2 * sps.norm.sf(z)  # sf(inf) = 0: an infinite z is a p of 0, not NaN
    degenerate = (estimate == 0) & (variance == 0)
    return np.where(degenerate, 1.0, np.where(np.isnan(z), np.nan, p))


@dataclass(frozen=True)
class Lift:
    absolute: np.ndarray
    absolute_var: np.ndarray
    relative: np.ndarray
    relative_var: np.ndarray
    p_value: np.ndarray


def lift(treatment: tuple[np.ndarray, np.ndarray], control: tuple[np.ndarray, np.ndarray]) -> Lift:
    """Absolute and relative difference of two independent estimates (ratio, variance), delta method."""
    rt, vt = (np.asarray(v, dtype=float) for v in treatment)
    rc, vc = (np.asarray(v, dtype=float) for v in control)
    with np.errstate(divide="ignore", invalid="ignore"):
        absolute = rt - rc
        absolute_var = vt + vc
        relative = rt / rc - 1
        relative_var = vt / rc**2 + rt**2 * vc / rc**4
    return Lift(absolute, absolute_var, relative, relative_var, two_sided_p(absolute, absolute_var))


# --- CUPED -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CupedArm:
    ratio: float
    variance: float
    variance_unadjusted: float


def cuped_ratio(arms: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[list[CupedArm], float]:
    """CUPED for a ratio metric, with each unit's pre-period ratio as covariate.

    `arms`: per arm (y, x, y_pre, x_pre) per-unit arrays; units without history have x_pre = 0 and
    get covariate 0. Both metric and covariate are linearised (delta method) so CUPED's linear
    adjustment applies to ratios; θ is pooled across arms so every arm is adjusted alike.
    Returns the adjusted arms and θ.
    """
    all_yp = np.concatenate([a[2] for a in arms]).astype(float)
    all_xp = np.concatenate([a[3] for a in arms]).astype(float)
    pre_ratio = all_yp.sum() / all_xp.sum() if all_xp.sum() > 0 else 0.0
    pre_mean_x = all_xp.mean() if len(all_xp) else 0.0
    linear, covariates = [], []
    for y, x, yp, xp in arms:
        y, x, yp, xp = (np.asarray(v, dtype=float) for v in (y, x, yp, xp))
        ratio = y.sum() / x.sum()
        linear.append((y - ratio * x) / x.mean())
        covariates.append((yp - pre_ratio * xp) / pre_mean_x if pre_mean_x > 0 else np.zeros_like(y))
    centered_l = np.concatenate([v - v.mean() for v in linear])
    centered_z = np.concatenate([v - v.mean() for v in covariates])
    var_z = float(np.dot(centered_z, centered_z))
    theta = float(np.dot(centered_l, centered_z) / var_z) if var_z > 0 else 0.0
    z_all = np.concatenate(covariates).mean()
    out = []
    for (y, x, _, _), lin, cov in zip(arms, linear, covariates, strict=True):
        n = len(lin)
        ratio = float(np.sum(y) / np.sum(x))
        adjusted = lin - theta * cov
        out.append(CupedArm(ratio=ratio - theta * float(cov.mean() - z_all),
                            variance=float(np.var(adjusted, ddof=1) / n) if n > 1 else math.nan,
                            variance_unadjusted=float(np.var(lin, ddof=1) / n) if n > 1 else math.nan))
    return out, theta


# --- sample ratio mismatch -----------------------------------------------------------------------------------

SRM_ALPHA = 0.001


def srm_p_value(observed: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Chi-square goodness of fit of units per bucket against the configured shares (last axis)."""
    observed = np.asarray(observed, dtype=float)
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    expected = observed.sum(axis=-1, keepdims=True) * shares
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum((observed - expected) ** 2 / expected, axis=-1)
    return sps.chi2.sf(chi2, df=observed.shape[-1] - 1)


# --- always-valid confidence sequences ------------------------------------------------------------------------

def cs_rho2(alpha: float = 0.05, planned_n: float = CS_PLANNED_USERS) -> float:
    """Mixture variance (per unit, standardised) making the boundary tightest at `planned_n`."""
    log_term = 2 * math.log(1 / alpha)
    return (log_term + math.log(1 + log_term)) / planned_n


def cs_radius(se: ArrayLike, n: ArrayLike, alpha: float = 0.05, planned_n: float = CS_PLANNED_USERS) -> np.ndarray:
    """Half-width of a normal-mixture confidence sequence (Robbins; Howard et al. 2021).

    With n units and standard error se, |estimate − truth| ≤ radius holds at every n simultaneously
    with probability ≥ 1 − α (asymptotically), so the interval may be read daily without inflating
    the false-positive rate the way repeated fixed-horizon tests do.
    """
    n = np.asarray(n, dtype=float)
    a = n * cs_rho2(alpha, planned_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.sqrt((1 + a) / a * (2 * math.log(1 / alpha) + np.log1p(a)))
    return np.asarray(se) * factor


def always_valid_p(estimate: Numeric, variance: Numeric, n: ArrayLike, alpha: float = 0.05,
                   planned_n: float = CS_PLANNED_USERS) -> np.ndarray:
    """Always-valid two-sided p-value of `estimate = 0` (mixture sequential probability ratio test).

    The reciprocal of the normal-mixture likelihood ratio behind `cs_radius`, with the same mixture
    (tuned for `alpha` at `planned_n`): p ≤ α exactly when the α-level confidence sequence excludes
    zero, and under the null P(p_n ≤ α at any n) ≤ α, so it may be read after every day of data.
    p = min(1, √(1 + a) · exp(−z² a / (2 (1 + a)))), a = n ρ².
    """
    estimate = np.asarray(estimate, dtype=float)
    variance = np.asarray(variance, dtype=float)
    a = np.asarray(n, dtype=float) * cs_rho2(alpha, planned_n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z2 = estimate * estimate / variance
        log_p = 0.5 * np.log1p(a) - z2 * a / (2 * (1 + a))
        p = np.minimum(1.0, np.exp(log_p))
    degenerate = (estimate == 0) & (variance == 0)
    return np.where(degenerate, 1.0, np.where(np.isnan(z2) | ~(a > 0), np.nan, p))


def effective_n(n_treatment: ArrayLike, n_control: ArrayLike) -> np.ndarray:
    """Units of a two-sample comparison on the scale of one sample (n_t·n_c / (n_t + n_c)) × 2."""
    n_treatment = np.asarray(n_treatment, dtype=float)
    n_control = np.asarray(n_control, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * n_treatment * n_control / (n_treatment + n_control)


# --- multiple comparisons --------------------------------------------------------------------------------------

def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """BH-adjusted p-values (q-values); NaN stays NaN and is not counted as a test."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error across the tests); NaN is not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(1.0, stepped)
    return out


# --- intervals on counts ----------------------------------------------------------------------------------------

def wilson_interval(successes: ArrayLike, trials: ArrayLike, z: float = Z95) -> tuple[Any, Any]:
    """Wilson score interval for a proportion (used where the unit is the impression)."""
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / trials
        denom = 1 + z * z / trials
        center = (p + z * z / (2 * trials)) / denom
        half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return center - half, center + half


def chi_square_uniform(counts: ArrayLike) -> float:
    """p-value that the counts came from a uniform distribution over their cells."""
    counts = np.asarray(counts, dtype=float)
    if len(counts) < 2 or counts.sum() == 0:
        return math.nan
    return float(sps.chisquare(counts).pvalue)
