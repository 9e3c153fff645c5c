"""The experiment report: per-bucket metrics with intervals, lifts, CUPED, SRM, sequential intervals,
segment lifts under Benjamini–Hochberg, and logging health. Reads the rollups.

Sequential testing is on by default: the headline p-values and intervals are always-valid (safe to
read every day); the fixed-horizon ones stand beside them. See docs/analytics.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Sum

from creative.models import StyleVariant, VariantAuditEntry, VariantStatus
from ranking.services import ExperimentInfo

from . import interaction_log, stats
from .models import DailyRollup, ExperimentUser, UserDayRollup
from .rollups import refresh_for_read
from .segments import parse_segment_key

MIN_SEGMENT_USERS = 30
HEALTH_DECISION_SAMPLE = 20_000
CONTROL_BUCKET = "control"
# The metrics of the report: name, numerator, denominator (users as the unit for both).
METRICS = (("ctr", "clicks", "impressions"), ("cvr", "conversions", "clicks"))
# Variant changes that move a variant in or out of the random bucket's draw.
ELIGIBILITY_ACTIONS = ("status", "pin", "unpin", "block", "unblock")


class ExperimentReportError(ValueError):
    """The experiment cannot be reported as asked; `field` names what is wrong (for a 4xx answer)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _f(value: Any) -> float | None:
    """JSON-safe float: NaN and infinities become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pair(low: Any, high: Any) -> list[float | None]:
    return [_f(low), _f(high)]


def user_day_frame(experiment: ExperimentInfo) -> pd.DataFrame:
    """The experiment's user-day rollups, a row per (bucket, user, day, segment key)."""
    rows = (UserDayRollup.objects.filter(experiment_id=experiment.id)
            .values("bucket", "user_id", "day", "segment_key")
            .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions")))
    return pd.DataFrame.from_records(list(rows), columns=["bucket", "user_id", "day", "segment_key", "impressions",
                                                          "clicks", "conversions"])


USER_COLUMNS = ["bucket", "user_id", "segment_key", "impressions", "clicks", "conversions"]


def experiment_users(experiment: ExperimentInfo) -> pd.DataFrame:
    """`users_at_first_exposure` of the experiment's user-day rollups, as the rollup refresh keeps it
    (`ExperimentUser`): one row per (bucket, user) in (bucket, user_id) code-point order, the frame's order.
    The report reads these rows instead of a row per user and day."""
    rows = (ExperimentUser.objects.filter(experiment_id=experiment.id)
            .values_list("bucket", "user_id", "segment_key", "impressions", "clicks", "conversions"))
    if not rows:
        return pd.DataFrame(columns=USER_COLUMNS)
    frame = pd.DataFrame.from_records(list(rows), columns=USER_COLUMNS)
    frame = frame.astype({"impressions": np.int64, "clicks": np.int64, "conversions": np.int64})
    # Sorted here, not by the database, whose collation may not order strings as Python does.
    return frame.sort_values(["bucket", "user_id"], kind="stable", ignore_index=True)


def users_at_first_exposure(user_days: pd.DataFrame) -> pd.DataFrame:
    """One row per (bucket, user): the user's totals over every day, and the segment of their first exposure.

    A user's features may drift during an experiment (age bands, tenure, activity counts); counting the
    user in every segment they passed through makes one user several correlated "units" and inflates
    false positives. The segment is fixed at the first day the user was exposed; within that day, the
    segment key with the most impressions (ties: the first key in sort order).
    """
    columns = ["bucket", "user_id", "segment_key", "impressions", "clicks", "conversions"]
    if not len(user_days):
        return pd.DataFrame(columns=columns)
    totals = (user_days.groupby(["bucket", "user_id"], as_index=False)[["impressions", "clicks", "conversions"]]
              .sum())
    first = (user_days.sort_values(["day", "impressions", "segment_key"], ascending=[True, False, True],
                                   kind="stable")
             .drop_duplicates(["bucket", "user_id"])[["bucket", "user_id", "segment_key"]])
    return totals.merge(first, on=["bucket", "user_id"], how="left")[columns]


def _pre_period(experiment: ExperimentInfo, user_ids: list[str]) -> pd.DataFrame:
    start_day = experiment.started_at.date()
    rows = (UserDayRollup.objects.filter(placement_id=experiment.placement_id, day__lt=start_day)
            .values("user_id").annotate(pre_impressions=Sum("impressions"), pre_clicks=Sum("clicks")))
    frame = pd.DataFrame.from_records(list(rows), columns=["user_id", "pre_impressions", "pre_clicks"])
    return frame[frame["user_id"].isin(set(user_ids))]


def _ratio_block(sums: stats.RatioStats) -> tuple[float, float]:
    ratio, var = stats.ratio_delta(sums)
    return float(ratio), float(var)


def _metric_block(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    return _ratio_block(stats.RatioStats.from_units(y, x))


def _lift_json(treatment: tuple[float, float], control: tuple[float, float], n_t: int, n_c: int,
               *, sequential: bool = True) -> dict:
    """A lift with both readings: always-valid (`*_cs`, `p_value_always_valid`) and fixed-horizon
    (`*_ci`, `p_value_fixed_horizon`); `p_value` is the headline one (always-valid when sequential)."""
    result = stats.lift(treatment, control)
    absolute, absolute_var = float(result.absolute), float(result.absolute_var)
    relative, relative_var = float(result.relative), float(result.relative_var)
    n_eff = float(stats.effective_n(n_t, n_c))
    factor = float(stats.cs_radius(1.0, n_eff)) if n_eff > 0 else math.nan
    radius = factor * math.sqrt(absolute_var) if absolute_var == absolute_var else math.nan
    relative_radius = factor * math.sqrt(relative_var) if relative_var == relative_var else math.nan
    fixed = _f(result.p_value)
    always_valid = _f(stats.always_valid_p(absolute, absolute_var, n_eff)) if n_eff > 0 else None
    return {
        "absolute": _f(absolute),
        "absolute_ci": _pair(*stats.normal_ci(absolute, absolute_var)),
        "absolute_cs": _pair(absolute - radius, absolute + radius),
        "relative": _f(relative),
        "relative_ci": _pair(*stats.normal_ci(relative, relative_var)),
        "relative_cs": _pair(relative - relative_radius, relative + relative_radius),
        "p_value": always_valid if sequential else fixed,
        "p_value_fixed_horizon": fixed,
        "p_value_always_valid": always_valid,
        "p_value_adjusted": None,  # set across the treatment arms (Holm) once every arm is computed
    }


def _adjust_across_arms(lifts: list[dict]) -> None:
    """Holm across the treatment arms of one metric, on the headline p-values, in place."""
    adjusted = stats.holm([lift["p_value"] if lift["p_value"] is not None else np.nan for lift in lifts])
    for lift, value in zip(lifts, adjusted, strict=True):
        lift["p_value_adjusted"] = _f(value)


def _feature_codes(keys: pd.Series) -> tuple[list[str], dict[str, tuple[np.ndarray, list[str]]]]:
    """Each row's value of every feature of its segment key, parsed once per distinct key: the features in
    sorted order and, per feature, (each row's code into the sorted values, -1 where the key lacks it)."""
    key_codes, distinct = pd.factorize(keys.fillna("").astype(str), sort=False)
    holders: dict[str, dict[str, list[int]]] = {}  # feature -> value -> the distinct keys holding it
    for k, key in enumerate(distinct):
        for name, value in parse_segment_key(key).items():
            holders.setdefault(name, {}).setdefault(value, []).append(k)
    columns: dict[str, tuple[np.ndarray, list[str]]] = {}
    for feature, by_value in holders.items():
        values = sorted(by_value)
        code_of_key = np.full(len(distinct), -1, dtype=np.int64)
        for code, value in enumerate(values):
            code_of_key[by_value[value]] = code
        columns[feature] = (code_of_key[key_codes], values)
    return sorted(holders), columns


def segment_lifts(users: pd.DataFrame, control: str, treatments: list[str], *,
                  sequential: bool = True, min_users: int = MIN_SEGMENT_USERS) -> list[dict]:
    """Lift of each treatment in each segment value, for CTR and CVR; Benjamini–Hochberg across all of them.

    `users`: one row per (bucket, user) with the segment the user is fixed in (`users_at_first_exposure`),
    so each user is one unit in exactly one value of each feature. `p_value` is the headline
    (always-valid when `sequential`), `p_value_fixed_horizon` beside it; `q_value` adjusts the headline.

    Every (feature, value, bucket) cell's sufficient statistics (users, Σy, Σx, Σy², Σx², Σxy) come from one
    bincount per feature and statistic; the delta method needs nothing else, and the sums of integer counts
    are exact, so the cells are those of filtering the users cell by cell.
    """
    if not len(users):
        return []
    arms = [control, *treatments]
    bucket_code = pd.Categorical(users["bucket"], categories=arms).codes.astype(np.int64)
    n_arms = len(arms)
    features, columns = _feature_codes(users["segment_key"])
    counts = {name: users[name].to_numpy(dtype=float) for name in ("impressions", "clicks", "conversions")}
    found: list[dict] = []
    for feature in features:
        value_code, values = columns[feature]
        inside = (value_code >= 0) & (bucket_code >= 0)
        cell = (value_code * n_arms + bucket_code)[inside]
        size = len(values) * n_arms

        def by(weights: np.ndarray | None, cells: np.ndarray = cell, rows: np.ndarray = inside,
               size: int = size) -> np.ndarray:
            return np.bincount(cells, weights=None if weights is None else weights[rows],
                               minlength=size).reshape(-1, n_arms)

        arm_users = by(None)
        sums = {}
        for metric, num, den in METRICS:
            y, x = counts[num], counts[den]
            has = x > 0
            y, x = np.where(has, y, 0.0), np.where(has, x, 0.0)
            sums[metric] = [by(v) for v in (has.astype(float), y, x, y * y, x * x, x * y)]
        for v in np.flatnonzero(arm_users[:, 0] >= min_users):
            for b, bucket in enumerate(treatments, start=1):
                if arm_users[v, b] < min_users:
                    continue
                for metric, _num, _den in METRICS:
                    n, sy, sx, syy, sxx, sxy = (s[v] for s in sums[metric])
                    if n[b] < 2 or n[0] < 2 or sy[0] == 0:
                        continue
                    treated = stats.RatioStats(n=np.asarray(n[b]), sy=sy[b], sx=sx[b], syy=syy[b], sxx=sxx[b],
                                               sxy=sxy[b])
                    held = stats.RatioStats(n=np.asarray(n[0]), sy=sy[0], sx=sx[0], syy=syy[0], sxx=sxx[0],
                                            sxy=sxy[0])
                    lift_json = _lift_json(_ratio_block(treated), _ratio_block(held), int(n[b]), int(n[0]),
                                           sequential=sequential)
                    found.append({"feature": feature, "value": values[v], "bucket": bucket, "metric": metric,
                                  "users": int(n[b] + n[0]), "relative_lift": lift_json["relative"],
                                  "absolute_lift": lift_json["absolute"], "p_value": lift_json["p_value"],
                                  "p_value_fixed_horizon": lift_json["p_value_fixed_horizon"],
                                  "relative_lift_ci": lift_json["relative_ci"],
                                  "relative_lift_cs": lift_json["relative_cs"]})
    q = stats.benjamini_hochberg([s["p_value"] if s["p_value"] is not None else np.nan for s in found])
    for item, q_value in zip(found, q, strict=True):
        item["q_value"] = _f(q_value)
        item["significant"] = bool(q_value < 0.05) if np.isfinite(q_value) else False
    found.sort(key=lambda s: (s["q_value"] is None, s["q_value"] or 1.0))
    return found


def eligible_random_variants(experiment: ExperimentInfo) -> set[int]:
    """Variants the random bucket drew from at every decision since the experiment started: live, not
    pinned (pinned variants are placed, not drawn), not blocked, published before the start, and with no
    change of status, pin or block since. Uniform sampling gives each of them the same expected count."""
    live = StyleVariant.objects.filter(placement_id=experiment.placement_id, status=VariantStatus.LIVE,
                                       blocked=False, pinned=False)
    late = set(live.filter(published_at__gt=experiment.started_at).values_list("id", flat=True))
    changed = set(VariantAuditEntry.objects.filter(variant__placement_id=experiment.placement_id,
                                                   action__in=ELIGIBILITY_ACTIONS,
                                                   changed_at__gt=experiment.started_at)
                  .values_list("variant_id", flat=True))
    return set(live.values_list("id", flat=True)) - late - changed


def propensity_checks(decisions: Iterable[interaction_log.LoggedDecision]) -> dict[str, tuple[int, int]]:
    """(decisions checked, decisions whose logged propensities are valid) per bucket. Valid: items logged,
    each with a propensity in (0, 1]; in the random bucket 1 or 1/candidates, in control 1. PostgreSQL runs
    the same check in the database (`interaction_log.propensity_check_counts`)."""
    checked: dict[str, int] = defaultdict(int)
    valid: dict[str, int] = defaultdict(int)
    for decision in decisions:
        bucket, candidates, items = decision.bucket, decision.candidates, decision.items
        checked[bucket] += 1
        ok = bool(items)
        for item in items or []:
            p = item.get("propensity") if isinstance(item, dict) else None
            if not isinstance(p, int | float) or not 0 < p <= 1 + 1e-9:
                ok = False
            elif bucket == "random" and candidates and not (
                    abs(p - 1.0) < 1e-9 or abs(p * candidates - 1.0) < 1e-6):
                ok = False  # uniform over `candidates` live variants sums to 1 only at p = 1/candidates
            elif bucket == CONTROL_BUCKET and abs(p - 1.0) > 1e-9:
                ok = False  # the control design is a deterministic choice
        valid[bucket] += ok
    return {bucket: (n, valid[bucket]) for bucket, n in checked.items()}


def _health(experiment: ExperimentInfo, users: pd.DataFrame) -> dict:
    start_day = experiment.started_at.date()
    totals = DailyRollup.objects.filter(placement_id=experiment.placement_id, day__gte=start_day).aggregate(
        impressions=Sum("impressions"), logged=Sum("logged_impressions"))
    impressions = totals["impressions"] or 0
    logged_share = (totals["logged"] or 0) / impressions if impressions else None

    counts = interaction_log.propensity_check_counts(experiment_id=experiment.id, limit=HEALTH_DECISION_SAMPLE)
    if counts is None:
        counts = propensity_checks(interaction_log.decision_sample(experiment_id=experiment.id,
                                                                   limit=HEALTH_DECISION_SAMPLE))
    checked = sum(n for n, _ in counts.values())
    valid = sum(ok for _, ok in counts.values())
    problems = {bucket: n - ok for bucket, (n, ok) in sorted(counts.items()) if n > ok}

    random_counts = dict(DailyRollup.objects.filter(experiment_id=experiment.id, bucket="random")
                         .values_list("variant_id").annotate(n=Sum("impressions")).values_list("variant_id", "n"))
    # Only variants eligible at every random decision are compared: a variant published, pinned or
    # retired mid-experiment (or a pinned one, shown in every slate) has a different expected count.
    eligible = eligible_random_variants(experiment)
    cells = [random_counts.get(v, 0) for v in sorted(eligible)]
    multi = (users.groupby("user_id")["bucket"].nunique() > 1).sum() if len(users) else 0
    return {
        "impressions": int(impressions),
        "share_with_bucket_and_propensity": _f(logged_share),
        "decisions_checked": checked,
        "propensities_valid_share": _f(valid / checked) if checked else None,
        "propensity_problems_by_bucket": dict(problems),
        "random_bucket_uniform_p_value": _f(stats.chi_square_uniform(cells)) if sum(cells) else None,
        "random_bucket_variants": len(cells),
        "random_bucket_variants_not_eligible": len(set(random_counts) - eligible),
        "users_in_more_than_one_bucket": int(multi),
    }


def _bucket_names(experiment: ExperimentInfo, users: pd.DataFrame) -> list[str]:
    shares = experiment.buckets or {}
    names = sorted(set(shares) | set(users["bucket"].unique()) - {""})
    if CONTROL_BUCKET not in names:
        raise ExperimentReportError(
            "buckets", f"Experiment '{experiment.slug}' has no '{CONTROL_BUCKET}' bucket "
                       f"(buckets: {', '.join(names) or 'none'}); a report compares every bucket with "
                       f"'{CONTROL_BUCKET}', so add one to the experiment.")
    return names


def experiment_report(*, experiment: ExperimentInfo, refresh: bool = True, segments: bool = True,
                      sequential: bool = True) -> dict[str, Any]:
    """Everything an analyst needs to read one experiment; see docs/analytics.md for each field.

    Raises ExperimentReportError when the experiment has no `control` bucket.
    """
    if refresh:
        refresh_for_read(placement_id=experiment.placement_id)
    users_fixed = experiment_users(experiment)
    users = users_fixed.drop(columns=["segment_key"])
    shares = {b: float(s) for b, s in (experiment.buckets or {}).items()}
    names = _bucket_names(experiment, users)
    control = CONTROL_BUCKET
    treatments = [b for b in names if b != control]

    pre = _pre_period(experiment, users["user_id"].tolist()) if len(users) else pd.DataFrame()
    if len(pre):
        users = users.merge(pre, on="user_id", how="left").fillna({"pre_impressions": 0, "pre_clicks": 0})
    else:
        users = users.assign(pre_impressions=0, pre_clicks=0)

    arms = {b: users[users["bucket"] == b] for b in names}
    estimates: dict[str, dict[str, tuple[float, float]]] = {}
    buckets: dict[str, dict] = {}
    for b in names:
        arm = arms[b]
        n = len(arm)
        row: dict[str, Any] = {"share": shares.get(b), "users": int(n),
                               "impressions": int(arm["impressions"].sum()), "clicks": int(arm["clicks"].sum()),
                               "conversions": int(arm["conversions"].sum())}
        estimates[b] = {}
        for metric, num, den in METRICS:
            y, x = arm[num].to_numpy(float), arm[den].to_numpy(float)
            value, var = _metric_block(y, x) if n and x.sum() else (math.nan, math.nan)
            estimates[b][metric] = (value, var)
            radius = float(stats.cs_radius(math.sqrt(var), n)) if n and var == var else math.nan
            row.update({metric: _f(value), f"{metric}_ci": _pair(*stats.normal_ci(value, var)),
                        f"{metric}_cs": _pair(value - radius, value + radius)})
        row.update({"lift_vs_control": None, "p_value": None, "p_value_adjusted": None,
                    "cvr_lift_vs_control": None})
        buckets[b] = row
    for metric, key in (("ctr", "lift_vs_control"), ("cvr", "cvr_lift_vs_control")):
        lifts = []
        for b in treatments:
            if not buckets[b]["users"] or not buckets[control]["users"]:
                continue
            buckets[b][key] = _lift_json(estimates[b][metric], estimates[control][metric], buckets[b]["users"],
                                         buckets[control]["users"], sequential=sequential)
            lifts.append(buckets[b][key])
        _adjust_across_arms(lifts)
    for b in treatments:
        if buckets[b]["lift_vs_control"] is not None:
            buckets[b]["p_value"] = buckets[b]["lift_vs_control"]["p_value"]
            buckets[b]["p_value_adjusted"] = buckets[b]["lift_vs_control"]["p_value_adjusted"]

    with_history = int((users["pre_impressions"] > 0).sum()) if len(users) else 0
    cuped: dict[str, Any] = {"applied": False, "users_with_history": with_history}
    valid_arms = [b for b in names if buckets[b]["users"] >= 2 and buckets[b]["impressions"] > 0]
    if with_history >= 2 and control in valid_arms:
        arm_data = [(arms[b]["clicks"].to_numpy(float), arms[b]["impressions"].to_numpy(float),
                     arms[b]["pre_clicks"].to_numpy(float), arms[b]["pre_impressions"].to_numpy(float))
                    for b in valid_arms]
        adjusted, theta = stats.cuped_ratio(arm_data)
        by_name = dict(zip(valid_arms, adjusted, strict=True))
        raw_var = sum(a.variance_unadjusted for a in adjusted)
        removed = 1 - sum(a.variance for a in adjusted) / raw_var if raw_var > 0 else math.nan
        cuped.update({"applied": True, "theta": _f(theta), "variance_removed_pct": _f(100 * removed)})
        cuped_lifts = []
        for b in valid_arms:
            arm = by_name[b]
            buckets[b]["cuped"] = {"ctr": _f(arm.ratio), "ctr_ci": _pair(*stats.normal_ci(arm.ratio, arm.variance))}
            if b != control:
                c = by_name[control]
                buckets[b]["cuped"]["lift_vs_control"] = _lift_json(
                    (arm.ratio, arm.variance), (c.ratio, c.variance), buckets[b]["users"], buckets[control]["users"],
                    sequential=sequential)
                cuped_lifts.append(buckets[b]["cuped"]["lift_vs_control"])
        _adjust_across_arms(cuped_lifts)

    observed = np.array([buckets[b]["users"] for b in names if shares.get(b)], dtype=float)
    expected_shares = np.array([shares[b] for b in names if shares.get(b)], dtype=float)
    srm_p = float(stats.srm_p_value(observed, expected_shares)) if observed.sum() > 0 and len(observed) > 1 \
        else math.nan

    segment_rows = segment_lifts(users_fixed, control, treatments, sequential=sequential) \
        if segments and len(users_fixed) else []
    headline = "always_valid" if sequential else "fixed_horizon"
    return {
        "experiment": experiment.slug,
        "placement": experiment.placement,
        "status": experiment.status,
        "started_at": experiment.started_at.isoformat(),
        "control": control,
        "sequential": sequential,
        "headline": headline,
        "arms_adjustment": "holm",
        "buckets": buckets,
        "srm_p_value": _f(srm_p),
        "srm_flag": bool(srm_p < stats.SRM_ALPHA) if srm_p == srm_p else False,
        "srm_threshold": stats.SRM_ALPHA,
        "cuped": cuped,
        "segments": segment_rows,
        "health": _health(experiment, users),
        "notes": ("CTR = clicks / impressions and CVR = conversions / clicks, with users as the unit "
                  "(delta method). *_cs and p_value_always_valid: always-valid 95% (mixture SPRT), safe to "
                  "read daily; *_ci and p_value_fixed_horizon: valid only at one planned look. "
                  f"Headline p_value: {headline.replace('_', '-')}. p_value_adjusted: Holm across treatment "
                  "arms. Segments: each user in the segment of their first exposure; q_values are "
                  "Benjamini–Hochberg across segments, buckets and metrics."),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text for the terminal: the headline reading, with the other beside it."""

    def pct(v: float | None, digits: int = 2) -> str:
        return "—" if v is None else f"{100 * v:.{digits}f}%"

    def interval(pair: list | None) -> str:
        return "—" if not pair or pair[0] is None else f"[{pct(pair[0])}, {pct(pair[1])}]"

    def p_text(v: float | None) -> str:
        return "—" if v is None else f"{v:.4f}"

    sequential = report.get("sequential", True)
    which = "always-valid" if sequential else "fixed-horizon"
    other = "fixed-horizon" if sequential else "always-valid"
    lines = [f"Experiment {report['experiment']} on {report['placement']} ({report['status']}), "
             f"control = {report['control']}"]
    lines.append(f"{'bucket':<10}{'users':>9}{'impr.':>10}{'clicks':>8}{'CTR':>8}  {'95% CI':<20}"
                 f"{'lift':>9}  {'lift 95% ' + ('CS' if sequential else 'CI'):<22}{'p':>8}{'p Holm':>8}"
                 f"{'p ' + other[:5]:>9}")
    for name, b in report["buckets"].items():
        lift_json = b.get("lift_vs_control") or {}
        headline_interval = lift_json.get("relative_cs" if sequential else "relative_ci")
        other_p = lift_json.get("p_value_fixed_horizon" if sequential else "p_value_always_valid")
        lines.append(
            f"{name:<10}{b['users']:>9,}{b['impressions']:>10,}{b['clicks']:>8,}{pct(b['ctr']):>8}  "
            f"{interval(b['ctr_cs' if sequential else 'ctr_ci']):<20}{pct(lift_json.get('relative'), 1):>9}  "
            f"{interval(headline_interval) if lift_json else '—':<22}"
            f"{p_text(b.get('p_value')):>8}{p_text(b.get('p_value_adjusted')):>8}{p_text(other_p):>9}")
    lines.append(f"{'CVR':<10}{'users':>9}{'clicks':>10}{'conv.':>8}{'CVR':>8}  {'95% CI':<20}"
                 f"{'lift':>9}  {'lift 95% ' + ('CS' if sequential else 'CI'):<22}{'p':>8}{'p Holm':>8}")
    for name, b in report["buckets"].items():
        lift_json = b.get("cvr_lift_vs_control") or {}
        lines.append(
            f"{name:<10}{b['users']:>9,}{b['clicks']:>10,}{b['conversions']:>8,}{pct(b['cvr']):>8}  "
            f"{interval(b.get('cvr_cs' if sequential else 'cvr_ci')):<20}{pct(lift_json.get('relative'), 1):>9}  "
            f"{interval(lift_json.get('relative_cs' if sequential else 'relative_ci')) if lift_json else '—':<22}"
            f"{p_text(lift_json.get('p_value')):>8}{p_text(lift_json.get('p_value_adjusted')):>8}")
    lines.append(f"Intervals and p are {which} (sequential testing {'on' if sequential else 'off'}); "
                 f"'p {other[:5]}' is the {other} p; 'p Holm' adjusts p across the treatment arms.")
    srm = report["srm_p_value"]
    lines.append(f"SRM p = {'—' if srm is None else f'{srm:.4g}'}"
                 f"{'  ⚠ sample ratio mismatch: do not trust this split' if report['srm_flag'] else ''}")
    cuped = report["cuped"]
    if cuped.get("applied"):
        lines.append(f"CUPED on pre-experiment CTR: {cuped['users_with_history']:,} users with history, "
                     f"{cuped['variance_removed_pct']:.1f}% of variance removed")
    health = report["health"]
    uniform = health["random_bucket_uniform_p_value"]
    lines.append(f"Logging: {pct(health['share_with_bucket_and_propensity'], 1)} of impressions with bucket and "
                 f"propensity; propensities valid in {pct(health['propensities_valid_share'], 1)} of "
                 f"{health['decisions_checked']:,} decisions; random bucket uniform p = "
                 f"{'—' if uniform is None else round(uniform, 4)} over {health['random_bucket_variants']} "
                 f"eligible variant(s); {health['users_in_more_than_one_bucket']} user(s) in more than one bucket")
    significant = [s for s in report["segments"] if s["significant"]][:5]
    for s in significant:
        lines.append(f"  segment {s['feature']}={s['value']}: {s['bucket']} {s['metric'].upper()} lift "
                     f"{pct(s['relative_lift'], 1)} vs control (q = {s['q_value']:.3g})")
    return "\n".join(lines)
