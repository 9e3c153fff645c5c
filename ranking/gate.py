"""The activation gate: a model goes live only if, on traffic it did not train on, it beats predicting the
mean click rate and is not worse than the model serving now.

Training measures the candidate on its holdout (the newest 15% of rows, never seen in fitting or
calibration): its log loss, the log loss of the constant that predicts the validation split's click rate (the
level its calibration was fitted to: the baseline), the paired per-row gain over the baseline with its standard error, AUC, and the
champion's log loss on the holdout rows logged after the champion's own training window (rows the champion
did not learn from either). Those numbers are stored in the version's params
under "gate"; `check` turns them into a verdict with reasons in words. services.model_activate is the one
function that activates a model, and it calls `check` on every path; `force` overrides a refusal and is
written to the version's activation log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from . import features as F
from .models import ModelVersion

GAIN_Z = 1.64  # the holdout log-loss gain over the baseline must exceed this many standard errors (one-sided 95%)
MIN_CHAMPION_ROWS = 200  # holdout rows after the champion's training window needed to compare the two
CHAMPION_TOLERANCE = 0.01  # the candidate may be at most 1% worse in log loss than the champion (noise)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": self.reasons, **self.numbers}


class ActivationRefused(ValidationError):
    """The gate refused the version; `gate` says why (numbers and reasons). A ValidationError on "version",
    so an API that lets it through answers 400 with the reasons."""

    def __init__(self, version: str, gate: GateResult):
        self.text = f"v{version} was not activated: " + "; ".join(gate.reasons) + " (--force overrides)."
        super().__init__({"version": [self.text]})
        self.version, self.gate = version, gate

    def __str__(self) -> str:
        return self.text


def champion_numbers(*, champion_version: str | None, feature_rows: list[dict], variant_ids: np.ndarray,
                     tags_by_variant: dict, labels: np.ndarray, times: list, predicted: np.ndarray
                     ) -> dict[str, Any] | None:
    """The serving model's and the candidate's log loss on the holdout rows the champion did not train on."""
    from . import registry
    from .training import holdout_metrics

    if champion_version is None:
        return None
    row = ModelVersion.objects.filter(version=champion_version).first()
    if row is None:
        return None
    after = np.array([row.data_to is None or t > row.data_to for t in times], dtype=bool)
    out: dict[str, Any] = {"version": champion_version, "rows": int(after.sum()), "clicks": int(labels[after].sum())}
    if out["rows"] < MIN_CHAMPION_ROWS or not 0 < out["clicks"] < out["rows"]:
        out["compared"] = False
        return out
    try:
        model = registry.get_model(champion_version)
    except registry.ModelUnavailable as exc:
        return {**out, "compared": False, "unavailable": exc.reason}
    idx = np.flatnonzero(after)
    rows = [feature_rows[i] for i in idx]
    users = F.user_codes(model.spec, rows)
    tags = F.tag_matrix(model.spec, [tags_by_variant.get(int(v)) for v in variant_ids[idx]])
    codes = F.variant_codes(model.spec, variant_ids[idx].tolist())
    p = model.predict(users=users, tags=tags, vcodes=codes, positions=np.ones(len(idx)))
    champion, candidate = holdout_metrics(labels[idx], p), holdout_metrics(labels[idx], predicted[idx])
    return {**out, "compared": True, "logloss": champion["logloss"], "auc": champion["auc"],
            "candidate_logloss": candidate["logloss"], "candidate_auc": candidate["auc"]}


def gain_is_real(gain: float | None, se: float | None) -> bool:
    """The candidate's holdout log-loss gain over the baseline is more than GAIN_Z standard errors (paired
    over the holdout rows). Versions trained before the gain was measured have neither: not judged on it."""
    if gain is None or se is None:
        return True
    return gain > GAIN_Z * se


def check(mv: ModelVersion, *, min_auc: float = 0.5) -> GateResult:
    """The verdict on `mv` from the numbers training stored; reasons are written for the person activating."""
    stored = (mv.params or {}).get("gate") or {}
    baseline = stored.get("baseline_logloss")
    clicks, needed = stored.get("training_clicks"), stored.get("clicks_needed")
    numbers: dict[str, Any] = {"auc": mv.auc, "logloss": mv.logloss, "baseline_logloss": baseline,
                               "logloss_gain": stored.get("logloss_gain"),
                               "logloss_gain_se": stored.get("logloss_gain_se"),
                               "training_clicks": clicks, "holdout_clicks": stored.get("holdout_clicks"),
                               "clicks_needed": needed, "champion": stored.get("champion")}
    reasons = []
    few = f" (it learnt from {clicks} clicks; about {needed} are needed)" if clicks is not None and needed \
        and clicks < needed else ""
    if not stored:
        reasons.append("it has no gate measurements (trained before the activation gate); retrain it")
    if mv.auc is None:
        reasons.append("its holdout has no clicks, so nothing shows it ranks better than chance" + few)
    elif mv.auc < min_auc:
        reasons.append(f"holdout AUC {mv.auc:.3f} is below {min_auc:.2f}: it ranks no better than chance{few}")
    if stored and (baseline is None or mv.logloss is None):
        reasons.append("its holdout log loss could not be measured")
    elif stored and mv.logloss >= baseline:
        reasons.append(f"holdout log loss {mv.logloss:.5f} is not below {baseline:.5f}, the log loss of "
                       f"predicting the mean click rate{few}")
    elif stored and not gain_is_real(stored.get("logloss_gain"), stored.get("logloss_gain_se")):
        reasons.append(f"its holdout log loss {mv.logloss:.5f} beats the mean click rate's {baseline:.5f} by "
                       f"less than {GAIN_Z:g} standard errors of the gain ({stored['logloss_gain_se']:.5f}): "
                       f"within the noise of {stored.get('holdout_clicks')} holdout clicks{few}")
    champion = stored.get("champion")
    if champion and champion.get("compared") and champion["version"] != mv.version:
        if champion["candidate_logloss"] > champion["logloss"] * (1 + CHAMPION_TOLERANCE):
            reasons.append(f"on the {champion['rows']} holdout rows neither model trained on, its log loss "
                           f"{champion['candidate_logloss']:.5f} is worse than {champion['logloss']:.5f} of "
                           f"v{champion['version']}, which served when it was trained")
    return GateResult(passed=not reasons, reasons=reasons, numbers=numbers)
