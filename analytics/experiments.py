"""The experiment report: per-bucket metrics with intervals, lifts, CUPED, SRM, sequential intervals,
segment lifts under Benjamini–Hochberg, and logging health. Reads the rollups."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Sum

from creative.models import StyleVariant, VariantStatus
from ranking.models import Experiment

from . import interaction_log, stats
from .models import DailyRollup, UserDayRollup
from .rollups import refresh_for_read
from .segments import parse_segment_key

MIN_SEGMENT_USERS = 30
HEALTH_DECISION_SAMPLE = 20_000


def _f(value: Any) -> float | None:
    """JSON-safe float: NaN and infinities become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pair(low: Any, high: Any) -> list[float | None]:
    return [_f(low), _f(high)]


def _user_frame(experiment: Experiment) -> pd.DataFrame:
    rows = (UserDayRollup.objects.filter(experiment_id=experiment.id)
            .values("bucket", "user_id", "segment_key")
            .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions")))
    frame = pd.DataFrame.from_records(list(rows), columns=["bucket", "user_id", "segment_key", "impressions",
                                                           "clicks", "conversions"])
    return frame


def _pre_period(experiment: Experiment, user_ids: list[str]) -> pd.DataFrame:
    start_day = experiment.started_at.date()
    rows = (UserDayRollup.objects.filter(placement_id=experiment.placement_id, day__lt=start_day)
            .values("user_id").annotate(pre_impressions=Sum("impressions"), pre_clicks=Sum("clicks")))
    frame = pd.DataFrame.from_records(list(rows), columns=["user_id", "pre_impressions", "pre_clicks"])
    return frame[frame["user_id"].isin(set(user_ids))]


def _metric_block(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    ratio, var = stats.ratio_delta(stats.RatioStats.from_units(y, x))
    return float(ratio), float(var)


def _lift_json(treatment: tuple[float, float], control: tuple[float, float], n_t: int, n_c: int) -> dict:
    result = stats.lift(treatment, control)
    absolute, absolute_var = float(result.absolute), float(result.absolute_var)
    radius = float(stats.cs_radius(math.sqrt(absolute_var), stats.effective_n(n_t, n_c))) \
        if absolute_var == absolute_var else math.nan
    return {
        "absolute": _f(absolute),
        "absolute_ci": _pair(*stats.normal_ci(absolute, absolute_var)),
        "absolute_cs": _pair(absolute - radius, absolute + radius),
        "relative": _f(result.relative),
        "relative_ci": _pair(*stats.normal_ci(float(result.relative), float(result.relative_var))),
        "p_value": _f(result.p_value),
    }


def _segment_lifts(users: pd.DataFrame, control: str, treatments: list[str]) -> list[dict]:
    """Lift of each treatment in each segment value, for CTR and CVR; BH across all of them."""
    parsed = users["segment_key"].map(parse_segment_key)
    features = sorted({name for seg in parsed for name in seg})
    found: list[dict] = []
    for feature in features:
        values = parsed.map(lambda seg, f=feature: seg.get(f))
        for value in sorted(v for v in values.dropna().unique()):
            cell = users[values == value]
            arms = {b: cell[cell["bucket"] == b] for b in [control, *treatments]}
            if len(arms[control]) < MIN_SEGMENT_USERS:
                continue
            for bucket in treatments:
                if len(arms[bucket]) < MIN_SEGMENT_USERS:
                    continue
                for metric, num, den in (("ctr", "clicks", "impressions"), ("cvr", "conversions", "clicks")):
                    t = arms[bucket][arms[bucket][den] > 0]
                    c = arms[control][arms[control][den] > 0]
                    if len(t) < 2 or len(c) < 2 or c[num].sum() == 0:
                        continue
                    result = stats.lift(_metric_block(t[num].to_numpy(), t[den].to_numpy()),
                                        _metric_block(c[num].to_numpy(), c[den].to_numpy()))
                    found.append({"feature": feature, "value": value, "bucket": bucket, "metric": metric,
                                  "users": int(len(t) + len(c)), "relative_lift": _f(result.relative),
                                  "absolute_lift": _f(result.absolute), "p_value": _f(result.p_value)})
    q = stats.benjamini_hochberg([s["p_value"] if s["p_value"] is not None else np.nan for s in found])
    for item, q_value in zip(found, q, strict=True):
        item["q_value"] = _f(q_value)
        item["significant"] = bool(q_value < 0.05) if np.isfinite(q_value) else False
    found.sort(key=lambda s: (s["q_value"] is None, s["q_value"] or 1.0))
    return found


def _health(experiment: Experiment, users: pd.DataFrame) -> dict:
    start_day = experiment.started_at.date()
    totals = DailyRollup.objects.filter(placement_id=experiment.placement_id, day__gte=start_day).aggregate(
        impressions=Sum("impressions"), logged=Sum("logged_impressions"))
    impressions = totals["impressions"] or 0
    logged_share = (totals["logged"] or 0) / impressions if impressions else None

    checked = valid = 0
    problems: dict[str, int] = defaultdict(int)
    for decision in interaction_log.decision_sample(experiment_id=experiment.id, limit=HEALTH_DECISION_SAMPLE):
        bucket, candidates, items = decision.bucket, decision.candidates, decision.items
        checked += 1
        ok = bool(items)
        for item in items or []:
            p = item.get("propensity") if isinstance(item, dict) else None
            if not isinstance(p, int | float) or not 0 < p <= 1 + 1e-9:
                ok = False
            elif bucket == "random" and candidates and not (
                    abs(p - 1.0) < 1e-9 or abs(p * candidates - 1.0) < 1e-6):
                ok = False  # uniform over `candidates` live variants sums to 1 only at p = 1/candidates
            elif bucket == "control" and abs(p - 1.0) > 1e-9:
                ok = False  # the control design is a deterministic choice
        valid += ok
        if not ok:
            problems[bucket] += 1

    random_counts = dict(DailyRollup.objects.filter(experiment_id=experiment.id, bucket="random")
                         .values_list("variant_id").annotate(n=Sum("impressions")).values_list("variant_id", "n"))
    live = set(StyleVariant.objects.filter(placement_id=experiment.placement_id, status=VariantStatus.LIVE,
                                           blocked=False, pinned=False).values_list("id", flat=True))
    cells = [random_counts.get(v, 0) for v in sorted(live | set(random_counts))]
    multi = (users.groupby("user_id")["bucket"].nunique() > 1).sum() if len(users) else 0
    return {
        "impressions": int(impressions),
        "share_with_bucket_and_propensity": _f(logged_share),
        "decisions_checked": checked,
        "propensities_valid_share": _f(valid / checked) if checked else None,
        "propensity_problems_by_bucket": dict(problems),
        "random_bucket_uniform_p_value": _f(stats.chi_square_uniform(cells)) if sum(cells) else None,
        "random_bucket_variants": len(cells),
        "users_in_more_than_one_bucket": int(multi),
    }


def experiment_report(*, experiment: Experiment, refresh: bool = True, segments: bool = True) -> dict[str, Any]:
    """Everything an analyst needs to read one experiment; see docs/analytics.md for each field."""
    if refresh:
        refresh_for_read(placement_id=experiment.placement_id)
    by_segment = _user_frame(experiment)
    users = (by_segment.groupby(["bucket", "user_id"], as_index=False)[["impressions", "clicks", "conversions"]]
             .sum()) if len(by_segment) else by_segment.drop(columns=["segment_key"])
    shares = {b: float(s) for b, s in (experiment.buckets or {}).items()}
    names = sorted(set(shares) | set(users["bucket"].unique()) - {""})
    control = "control" if "control" in names else (names[0] if names else "control")
    treatments = [b for b in names if b != control]

    pre = _pre_period(experiment, users["user_id"].tolist()) if len(users) else pd.DataFrame()
    if len(pre):
        users = users.merge(pre, on="user_id", how="left").fillna({"pre_impressions": 0, "pre_clicks": 0})
    else:
        users = users.assign(pre_impressions=0, pre_clicks=0)

    arms = {b: users[users["bucket"] == b] for b in names}
    ctr = {}
    buckets: dict[str, dict] = {}
    for b in names:
        arm = arms[b]
        y, x = arm["clicks"].to_numpy(float), arm["impressions"].to_numpy(float)
        conv = arm["conversions"].to_numpy(float)
        n = len(arm)
        ratio, var = _metric_block(y, x) if n else (math.nan, math.nan)
        cvr, cvr_var = _metric_block(conv, y) if n and y.sum() else (math.nan, math.nan)
        ctr[b] = (ratio, var)
        radius = float(stats.cs_radius(math.sqrt(var), n)) if n and var == var else math.nan
        buckets[b] = {
            "share": shares.get(b), "users": int(n), "impressions": int(x.sum()), "clicks": int(y.sum()),
            "conversions": int(conv.sum()), "ctr": _f(ratio), "ctr_ci": _pair(*stats.normal_ci(ratio, var)),
            "ctr_cs": _pair(ratio - radius, ratio + radius), "cvr": _f(cvr),
            "cvr_ci": _pair(*stats.normal_ci(cvr, cvr_var)),
            "lift_vs_control": None, "p_value": None, "cvr_lift_vs_control": None,
        }
        buckets[b]["_cvr"] = (cvr, cvr_var)
    for b in treatments:
        if not buckets[b]["users"] or not buckets[control]["users"]:
            continue
        lift_json = _lift_json(ctr[b], ctr[control], buckets[b]["users"], buckets[control]["users"])
        buckets[b]["lift_vs_control"] = lift_json
        buckets[b]["p_value"] = lift_json["p_value"]
        buckets[b]["cvr_lift_vs_control"] = _lift_json(buckets[b]["_cvr"], buckets[control]["_cvr"],
                                                       buckets[b]["users"], buckets[control]["users"])
    for b in names:
        buckets[b].pop("_cvr")

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
        for b in valid_arms:
            arm = by_name[b]
            buckets[b]["cuped"] = {"ctr": _f(arm.ratio), "ctr_ci": _pair(*stats.normal_ci(arm.ratio, arm.variance))}
            if b != control:
                c = by_name[control]
                buckets[b]["cuped"]["lift_vs_control"] = _lift_json(
                    (arm.ratio, arm.variance), (c.ratio, c.variance), buckets[b]["users"], buckets[control]["users"])

    observed = np.array([buckets[b]["users"] for b in names if shares.get(b)], dtype=float)
    expected_shares = np.array([shares[b] for b in names if shares.get(b)], dtype=float)
    srm_p = float(stats.srm_p_value(observed, expected_shares)) if observed.sum() > 0 and len(observed) > 1 \
        else math.nan

    segment_rows = _segment_lifts(by_segment, control, treatments) if segments and len(by_segment) else []
    return {
        "experiment": experiment.slug,
        "placement": experiment.placement.slug,
        "status": experiment.status,
        "started_at": experiment.started_at.isoformat(),
        "control": control,
        "buckets": buckets,
        "srm_p_value": _f(srm_p),
        "srm_flag": bool(srm_p < stats.SRM_ALPHA) if srm_p == srm_p else False,
        "srm_threshold": stats.SRM_ALPHA,
        "cuped": cuped,
        "segments": segment_rows,
        "health": _health(experiment, users),
        "notes": ("CTR = clicks / impressions and CVR = conversions / clicks, with users as the unit "
                  "(delta method). *_ci: fixed-horizon 95%; *_cs: always-valid 95%, safe to read daily. "
                  "Segment q_values are Benjamini–Hochberg adjusted across segments and metrics."),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text for the terminal."""

    def pct(v: float | None, digits: int = 2) -> str:
        return "—" if v is None else f"{100 * v:.{digits}f}%"

    def interval(pair: list) -> str:
        return "—" if not pair or pair[0] is None else f"[{pct(pair[0])}, {pct(pair[1])}]"

    lines = [f"Experiment {report['experiment']} on {report['placement']} ({report['status']}), "
             f"control = {report['control']}"]
    lines.append(f"{'bucket':<10}{'users':>9}{'impr.':>10}{'clicks':>8}{'CTR':>8}  {'95% CI':<20}"
                 f"{'lift':>9}  {'lift 95% CI':<22}{'p':>8}")
    for name, b in report["buckets"].items():
        lift_json = b.get("lift_vs_control") or {}
        p = b.get("p_value")
        lines.append(
            f"{name:<10}{b['users']:>9,}{b['impressions']:>10,}{b['clicks']:>8,}{pct(b['ctr']):>8}  "
            f"{interval(b['ctr_ci']):<20}{pct(lift_json.get('relative'), 1):>9}  "
            f"{interval(lift_json.get('relative_ci')) if lift_json else '—':<22}"
            f"{'—' if p is None else f'{p:.4f}':>8}")
    srm = report["srm_p_value"]
    lines.append(f"SRM p = {'—' if srm is None else f'{srm:.4g}'}"
                 f"{'  ⚠ sample ratio mismatch: do not trust this split' if report['srm_flag'] else ''}")
    cuped = report["cuped"]
    if cuped.get("applied"):
        lines.append(f"CUPED on pre-experiment CTR: {cuped['users_with_history']:,} users with history, "
                     f"{cuped['variance_removed_pct']:.1f}% of variance removed")
    health = report["health"]
    lines.append(f"Logging: {pct(health['share_with_bucket_and_propensity'], 1)} of impressions with bucket and "
                 f"propensity; propensities valid in {pct(health['propensities_valid_share'], 1)} of "
                 f"{health['decisions_checked']:,} decisions; random bucket uniform p = "
                 f"{health['random_bucket_uniform_p_value'] if health['random_bucket_uniform_p_value'] is None else round(health['random_bucket_uniform_p_value'], 4)}; "
                 f"{health['users_in_more_than_one_bucket']} user(s) in more than one bucket")
    significant = [s for s in report["segments"] if s["significant"]][:5]
    for s in significant:
        lines.append(f"  segment {s['feature']}={s['value']}: {s['bucket']} {s['metric']} "
                     f"{pct(s['relative_lift'], 1)} vs control (q = {s['q_value']:.3g})")
    return "\n".join(lines)
