"""Off-policy evaluation: the CTR a candidate model would get, estimated from logged decisions.

**The target is the policy that would serve.** The candidate is evaluated as the model bucket would
serve it today (`ranking.services.target_policy`, built by the very code serving samples from): pinned
variants lead (the first pinned one holds position 1 with probability 1), then the mixture of
ε-exploration (settled by the catalogue's evidence), the new-variant share (variants under the
placement's threshold and well behind their peers) and greedy, or for Thompson placements the catalogue's posterior draws, over the placement's live,
unblocked variants.

Logged position-1 impressions with their propensities p give IPS, self-normalised IPS and doubly robust
estimates (the direct method is the candidate's own predictions). A row's importance weight is
π(v)/p by the rule training and attribution share (`analytics.importance`); OPE leaves it unclipped by
default (clipping biases the estimate down, heavily when the target is greedy over many variants) and
reports beside it what the shared clip KALEIDO_IPS_CLIP would give.

**Intervals.** Rows of one user are correlated (taste for clicking), so the resampling unit is the
user: a bias-corrected and accelerated (BCa) bootstrap over users, the acceleration from the
closed-form leave-one-user-out jackknife. BCa corrects the skew that a few heavy weights give the
bootstrap distribution, where plain percentiles under-cover. When the weights are so heavy that a few
rows carry the estimate (effective sample size below HEAVY_WEIGHT_ESS), BCa still under-covers, so the
headline interval becomes a finite-sample betting interval by user (`betting_interval`), valid however
heavy the weights; it is reported as `guaranteed_ci` in every answer, and BCa stays as `ci_bca`.

**Support.** A live variant the target can show at position 1 but that no evaluated row shows has
no logged support: the estimators cannot see its clicks. Such variants are listed in `warnings`
with the target's probability mass on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.utils import timezone
from scipy.stats import norm

from creative.models import Placement
from ranking import services as ranking

from . import importance, stats
from .interaction_log import impression_frame

MIN_ROWS = 50  # rank-1 impressions needed for an estimate
MAX_ROWS = 200_000
BOOTSTRAP = 500
CONFIDENCE = 0.95
HEAVY_WEIGHT_ESS = 100  # below this effective sample size the headline interval is the betting bound


class OpeError(ValueError):
    def __init__(self, message: str, field: str = "model_version"):
        super().__init__(message)
        self.field = field


# --- the estimators, on arrays (no database): what the planted-world tests exercise ----------------------

@dataclass(frozen=True)
class UserSums:
    """Per-user sums of the estimators' row terms: every estimator is a ratio of two of them."""
    ips: np.ndarray  # Σ w·r
    weight: np.ndarray  # Σ w
    dr: np.ndarray  # Σ (direct + w·(r − q))
    rows: np.ndarray  # row count

    def estimate(self, name: str, b: np.ndarray | None = None) -> np.ndarray:
        """The estimator `name` with user resampling weights b (shape (..., users)); b=None: the point."""
        num, den = {"ips": (self.ips, self.rows), "snips": (self.ips, self.weight), "dr": (self.dr, self.rows)}[name]
        if b is None:
            return np.asarray(num.sum() / den.sum()) if den.sum() > 0 else np.asarray(np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (b @ num) / (b @ den)

    def jackknife(self, name: str) -> np.ndarray:
        """Leave-one-user-out values of the estimator, in closed form."""
        num, den = {"ips": (self.ips, self.rows), "snips": (self.ips, self.weight), "dr": (self.dr, self.rows)}[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (num.sum() - num) / (den.sum() - den)


def user_sums(users: np.ndarray, w: np.ndarray, r: np.ndarray, direct: np.ndarray, q_logged: np.ndarray) -> UserSums:
    """Group row terms by user (`users`: any hashable ids, one per row)."""
    _, codes = np.unique(np.asarray(users).astype(str), return_inverse=True)
    codes = codes.ravel()
    size = int(codes.max()) + 1 if len(codes) else 0

    def by_user(x: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=x, minlength=size)

    return UserSums(ips=by_user(w * r), weight=by_user(w), dr=by_user(direct + w * (r - q_logged)),
                    rows=by_user(np.ones(len(codes))))


def bca_intervals(sums: UserSums, names: tuple[str, ...] = ("ips", "snips", "dr"), *, n_boot: int = BOOTSTRAP,
                  seed: int = 0, confidence: float = CONFIDENCE) -> dict[str, list[float]]:
    """BCa bootstrap intervals with users as the resampling unit (Poisson(1) weights per user)."""
    rng = np.random.default_rng(seed)
    n_users = len(sums.rows)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in names}
    chunk = max(1, min(50, 2_000_000 // max(n_users, 1)))
    for start in range(0, n_boot, chunk):
        b = rng.poisson(1.0, size=(min(chunk, n_boot - start), n_users)).astype(float)
        for name in names:
            draws[name].append(sums.estimate(name, b))
    alpha = (1 - confidence) / 2
    out = {}
    for name in names:
        boot = np.concatenate(draws[name])
        boot = boot[np.isfinite(boot)]
        theta = float(sums.estimate(name))
        if not len(boot) or not math.isfinite(theta):
            out[name] = [math.nan, math.nan]
            continue
        out[name] = _bca(boot, theta, sums.jackknife(name), alpha)
    return out


def _bca(boot: np.ndarray, theta: float, jack: np.ndarray, alpha: float) -> list[float]:
    below = float(np.count_nonzero(boot < theta) + 0.5 * np.count_nonzero(boot == theta)) / len(boot)
    below = min(max(below, 1 / (2 * len(boot))), 1 - 1 / (2 * len(boot)))
    z0 = float(norm.ppf(below))
    jack = jack[np.isfinite(jack)]
    spread = jack.mean() - jack if len(jack) else np.zeros(1)
    denom = 6.0 * float((spread ** 2).sum()) ** 1.5
    accel = float((spread ** 3).sum()) / denom if denom > 0 else 0.0
    quantiles = []
    for z in (norm.ppf(alpha), norm.ppf(1 - alpha)):
        shifted = z0 + (z0 + z) / (1 - accel * (z0 + z))
        quantiles.append(float(norm.cdf(shifted)))
    low, high = np.quantile(boot, quantiles)
    return [float(low), float(high)]


def betting_interval(users: np.ndarray, w: np.ndarray, r: np.ndarray, *,
                     confidence: float = CONFIDENCE) -> list[float]:
    """A finite-sample interval for the target's CTR that holds whatever the importance weights are.

    Testing by betting (Waudby-Smith & Ramdas 2023; for off-policy values Karampatziakis, Mineiro &
    Ramdas 2021), with users as the unit. The CTR V satisfies E[w·r] ≤ V ≤ 1 − E[w·(1 − r)] (equalities
    when every variant the target can show was logged with positive probability; r ≤ 1 gives the
    upper side). Both are means of non-negative per-user terms, so each gets a lower bound from a
    wealth process that can never go negative however heavy a weight is: no upper bound on w enters,
    which is what breaks empirical-Bernstein bounds (their width grows with the largest weight).
    Conservative (it covers more often than `confidence`) and wider than BCa; that is its price.
    """
    _, codes = np.unique(np.asarray(users).astype(str), return_inverse=True)
    codes = codes.ravel()
    if not len(codes):
        return [math.nan, math.nan]
    rows = np.bincount(codes).astype(float)
    side = (1 - confidence) / 2
    gained = np.bincount(codes, weights=w * r) / rows
    missed = np.bincount(codes, weights=w * (1 - r)) / rows
    low = _betting_lower_bound(gained, rows, side)
    high = 1.0 - _betting_lower_bound(missed, rows, side)
    # Propensities that understate the logging policy can make Σw exceed the rows (impossible when
    # they are right); the upper side then falls below the lower one, and the interval keeps the lower.
    return [max(low, 0.0), min(max(high, low), 1.0)]


BET_FRACTIONS = np.geomspace(1e-3, 0.9, 24)  # the mixture of constant bets (fractions of the safe maximum)


def _betting_lower_bound(z: np.ndarray, rows: np.ndarray, alpha: float) -> float:
    """Largest m that a mixture of bettors rejects as the mean of non-negative z (units of `rows` rows).

    For a guess m, bettor f stakes g_j = f·rows_j/max(rows) of its wealth per unit on z_j exceeding m:
    wealth Π_j (1 + g_j (z_j/m − 1)) stays positive (g_j < 1) and, weighting units by their rows, has
    expectation at most 1 when m is the row-weighted mean. The average over bettors rejects m when it
    reaches 1/alpha (Ville's inequality). Each wealth falls as m grows, so the bound is found by bisection.
    """
    stakes = BET_FRACTIONS[:, None] * (rows / rows.max())[None, :]
    threshold = math.log(1 / alpha)

    def rejected(m: float) -> bool:
        log_wealth = np.log1p(stakes * (z[None, :] / m - 1.0)).sum(axis=1)
        top = float(log_wealth.max())
        return top + math.log(float(np.exp(log_wealth - top).mean())) >= threshold

    low, high = 0.0, float(z.max())
    if high <= 0 or not rejected(high * 1e-9):
        return 0.0
    for _ in range(40):
        mid = (low + high) / 2
        if rejected(mid):
            low = mid
        else:
            high = mid
    return low


@dataclass(frozen=True)
class LoggedFeedback:
    """Position-1 rows as arrays: the user, the index of the variant shown among the target's candidates
    (-1 when it is not one of them), its logged propensity and the click."""
    users: np.ndarray
    logged: np.ndarray
    propensity: np.ndarray
    clicked: np.ndarray


@dataclass(frozen=True)
class RowTerms:
    """What the estimators need of the target per row: π and q at the logged variant, Σ_v π(v)·q(v)."""
    pi_logged: np.ndarray
    q_logged: np.ndarray
    direct: np.ndarray


def row_terms(logged: np.ndarray, pi: np.ndarray, q: np.ndarray) -> RowTerms:
    rows = np.arange(len(logged))
    known = logged >= 0
    at = np.maximum(logged, 0)
    return RowTerms(pi_logged=np.where(known, pi[rows, at], 0.0), q_logged=np.where(known, q[rows, at], 0.0),
                    direct=(pi * q).sum(axis=1))


def estimate(feedback: LoggedFeedback, pi: np.ndarray, q: np.ndarray, *, clip: float = math.inf,
             n_boot: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """IPS, SNIPS and DR of the target `pi` (rows × candidates, each row sums to 1) with BCa intervals by
    user, given the direct model's click probabilities `q` (same shape)."""
    return estimate_from_terms(feedback, row_terms(feedback.logged, pi, q), clip=clip, n_boot=n_boot, seed=seed)


def estimate_from_terms(feedback: LoggedFeedback, terms: RowTerms, *, clip: float = math.inf,
                        n_boot: int = BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """`estimate` from the per-row terms (what a chunked evaluation of a large catalogue keeps)."""
    pi_logged, q_logged, direct = terms.pi_logged, terms.q_logged, terms.direct
    r = feedback.clicked.astype(float)
    w = importance.clipped_ratios(pi_logged, feedback.propensity, clip=clip, missing=0.0)
    sums = user_sums(feedback.users, w, r, direct, q_logged)
    intervals = bca_intervals(sums, n_boot=n_boot, seed=seed)
    total = float(w.sum())
    ess = total ** 2 / float((w * w).sum()) if (w * w).sum() > 0 else 0.0
    diagnostics = {"effective_sample_size": ess, "largest_weight": float(w.max()) if len(w) else 0.0,
                   "largest_weight_share": float(w.max() / total) if total > 0 else None}

    def finite(x: float) -> float | None:  # JSON has no NaN: an estimate that cannot be computed is null
        return float(x) if math.isfinite(x) else None

    def bounded(ci: list[float]) -> list[float | None]:
        # A CTR lies in [0, 1]: cutting the interval there keeps its coverage (DR terms can go below 0).
        return [finite(min(max(x, 0.0), 1.0)) if math.isfinite(x) else None for x in ci]

    shared_clip = importance.default_clip()
    clipped = importance.clipped_ratios(pi_logged, feedback.propensity, clip=shared_clip, missing=0.0)
    unclipped = importance.clipped_ratios(pi_logged, feedback.propensity, clip=math.inf, missing=0.0)
    # BCa under-covers when a few rows carry the estimate (measured on planted worlds: 0.89–0.93 at an
    # effective sample size near 20, 0.925 near 40); there the headline interval is the betting one.
    # Clipped weights would bias it, so the betting interval always reads the unclipped ones.
    guaranteed = betting_interval(feedback.users, unclipped, r)
    heavy = ess < HEAVY_WEIGHT_ESS
    return {
        "estimates": {name: {"ctr": finite(float(sums.estimate(name))),
                             "ci": bounded(guaranteed) if heavy else bounded(intervals[name]),
                             "ci_bca": bounded(intervals[name]),
                             **diagnostics} for name in ("ips", "snips", "dr")},
        "interval_method": "betting_by_user" if heavy else "bca_bootstrap_by_user",
        "guaranteed_ci": bounded(guaranteed),
        "direct_method_ctr": finite(float(direct.mean())) if len(direct) else None,
        "users": int(len(sums.rows)),
        "clipped_ips": {"clip": shared_clip, "ctr": finite(float((clipped * r).mean())) if len(r) else None,
                        "clipped_rows": int(np.count_nonzero(unclipped > shared_clip))},
    }


def unsupported(pi: np.ndarray, logged: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates the target can show (mean probability > 0) that no row shows: (indices, target share)."""
    return unsupported_share(pi.mean(axis=0) if len(pi) else np.zeros(pi.shape[1]), logged)


def unsupported_share(share: np.ndarray, logged: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`unsupported` from the target's mean probability per candidate."""
    shown = np.bincount(logged[logged >= 0], minlength=len(share)) > 0
    idx = np.flatnonzero((share > 0) & ~shown)
    return idx, share[idx]


# --- the target: the serving policy ----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    variant_ids: list[int]  # the candidates, in the catalogue's order (by id)
    variant_keys: list[str]
    pi: np.ndarray  # rows × candidates: P(candidate at position 1) under the serving policy
    q: np.ndarray  # rows × candidates: the model's click probability at position 1
    description: dict[str, Any]


SCORE_CELLS = 2_000_000  # rows × candidates scored at once: bounds memory on large catalogues


def _serving_policy(placement: Placement, model_version: str, epsilon: float | None) -> ranking.TargetPolicy:
    try:
        return ranking.target_policy(placement=placement, model_version=model_version, epsilon=epsilon)
    except ranking.NoLiveVariant as exc:
        raise OpeError(f"'{placement.slug}' has no live variant.", field="placement") from exc


def _scores(policy: ranking.TargetPolicy, feature_rows: list[dict[str, Any]]) -> np.ndarray:
    try:
        return policy.scores(feature_rows)
    except Exception as exc:  # a missing or corrupt artefact is the caller's problem to fix, not a 500
        raise OpeError(f"cannot score with model {policy.model_version}: {exc}") from exc


def _describe(policy: ranking.TargetPolicy) -> dict[str, Any]:
    return {"exploration_policy": policy.exploration_policy, "epsilon": policy.epsilon,
            "new_variant_share": policy.new_variant_share, "new_variants": policy.new_variants,
            "pinned": list(policy.pinned), "thompson_draws": policy.thompson_draws}


def target_policy(*, placement: Placement, model_version: str, feature_rows: list[dict[str, Any]],
                  epsilon: float | None = None) -> Target:
    """P(each live variant at position 1) for each row, as the model bucket would serve `model_version`."""
    policy = _serving_policy(placement, model_version, epsilon)
    q = _scores(policy, feature_rows)
    return Target(variant_ids=list(policy.variant_ids), variant_keys=list(policy.variant_keys),
                  pi=policy.first_position(q), q=q, description=_describe(policy))


@dataclass(frozen=True)
class TargetSummary:
    variant_ids: list[int]
    variant_keys: list[str]
    terms: RowTerms
    share: np.ndarray  # the target's mean P(candidate at position 1) over the rows
    description: dict[str, Any]


def target_terms(*, placement: Placement, model_version: str, feature_rows: list[dict[str, Any]],
                 logged_variant_ids: list[int], epsilon: float | None = None,
                 cells: int = SCORE_CELLS) -> TargetSummary:
    """The target's per-row terms, scored in blocks of rows so that rows × candidates stays bounded."""
    policy = _serving_policy(placement, model_version, epsilon)
    ids = list(policy.variant_ids)
    index = {v: i for i, v in enumerate(ids)}
    logged = np.array([index.get(int(v), -1) for v in logged_variant_ids], dtype=int)
    block = max(1, cells // len(ids))
    parts: list[RowTerms] = []
    share = np.zeros(len(ids))
    for start in range(0, len(feature_rows), block):
        q = _scores(policy, feature_rows[start:start + block])
        pi = policy.first_position(q)
        parts.append(row_terms(logged[start:start + block], pi, q))
        share += pi.sum(axis=0)
    terms = RowTerms(*(np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0)
                       for f in ("pi_logged", "q_logged", "direct")))
    return TargetSummary(variant_ids=ids, variant_keys=list(policy.variant_keys), terms=terms,
                         share=share / max(len(feature_rows), 1), description=_describe(policy))


def off_policy_estimate(*, placement: Placement, model_version: str, buckets: list[str] | None = None,
                        days: int | None = None, epsilon: float | None = None, n_boot: int = BOOTSTRAP,
                        seed: int = 0, max_rows: int = MAX_ROWS, include_training: bool = False,
                        clip: float | None = None) -> dict[str, Any]:
    """IPS, SNIPS and DR estimates of `model_version`'s CTR on this placement, next to the online CTR.

    By default only decisions logged after the candidate's training window are used when there are at
    least MIN_ROWS of them: a model scored on the log it was fitted to looks better than it is (it
    picks the variants that were lucky in that very log; on the simulator about +10%).
    `include_training=True`, or too few later rows, uses every row and says so in `evaluated_on`.
    `clip` caps the importance weights (default: none, see the module docstring).
    """
    model = ranking.model_version_or_none(model_version)
    if model is None:
        raise OpeError(f"Unknown model version '{model_version}'.")
    buckets = buckets or ["random"]
    frame = impression_frame(placement=placement, buckets=buckets, days=days, limit=max_rows)
    frame = frame[(frame["position"] == 1) & (frame["propensity"].astype(float) > 0)] if len(frame) else frame
    if len(frame) < MIN_ROWS:
        raise OpeError(f"needs at least {MIN_ROWS} logged rank-1 impressions with propensities (has {len(frame)})",
                       field="buckets")
    after = frame[frame["decided_at"] > model.data_to] if model.data_to is not None else frame
    if not include_training and len(after) >= MIN_ROWS:
        frame = after
    evaluated_on = "after_training" if len(frame) == len(after) else "including_training"
    rows = [ranking.row_features(f, c) for f, c in zip(frame["features"], frame["context"], strict=True)]
    logged_ids = [int(v) for v in frame["variant_id"]]
    target = target_terms(placement=placement, model_version=model_version, feature_rows=rows,
                          logged_variant_ids=logged_ids, epsilon=epsilon)
    index = {v: i for i, v in enumerate(target.variant_ids)}
    feedback = LoggedFeedback(users=frame["user_id"].to_numpy(),
                              logged=np.array([index.get(v, -1) for v in logged_ids], dtype=int),
                              propensity=frame["propensity"].astype(float).to_numpy(),
                              clicked=frame["clicked"].astype(float).to_numpy())
    result = estimate_from_terms(feedback, target.terms, clip=math.inf if clip is None else clip, n_boot=n_boot,
                                 seed=seed)
    missing_idx, missing_share = unsupported_share(target.share, feedback.logged)
    unsupported_variants = [{"variant_key": target.variant_keys[i], "target_share": float(s)}
                            for i, s in zip(missing_idx, missing_share, strict=True)]
    warnings = []
    if unsupported_variants:
        share = float(missing_share.sum())
        warnings.append(
            f"{len(unsupported_variants)} live variant(s) the candidate would show have no logged support "
            f"({share:.1%} of its position-1 traffic): "
            + ", ".join(v["variant_key"] for v in unsupported_variants[:20])
            + (" …" if len(unsupported_variants) > 20 else "")
            + ". The estimate cannot see their clicks; log them in the random bucket first.")
    active = ranking.active_model_version(placement)
    online = _online_ctr(placement, active, days)
    return {
        "placement": placement.slug, "model_version": model_version, "logged_buckets": buckets,
        "rows": int(len(frame)), "users": result["users"], "evaluated_on": evaluated_on,
        "rows_after_training": int(len(after)),
        "training_window": [_iso(model.data_from), _iso(model.data_to)],
        "candidates": len(target.variant_ids), "epsilon": target.description["epsilon"],
        "target": target.description, "logged_ctr": float(feedback.clicked.mean()),
        "estimates": result["estimates"], "interval_method": result["interval_method"],
        "guaranteed_ci": result["guaranteed_ci"],
        "clipped_ips": result["clipped_ips"],
        "direct_method_ctr": result["direct_method_ctr"],
        "unsupported_variants": unsupported_variants, "warnings": warnings,
        "active_model": {"model_version": active, **online},
        "notes": "Target policy: the model bucket's serving policy (pinned first, ε-exploration, new-variant "
                 "share, greedy or Thompson draws) on the candidate's scores over today's live variants, "
                 "position 1." + ("" if evaluated_on == "after_training" else
                                  " These rows include the candidate's own training data, so the estimates "
                                  "are optimistic."),
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
