"""What an operator should know before starting an experiment on a placement.

Each line is something that silently changes what the experiment measures when it is missing: a model
bucket with no trained and active model serves the control design; a control bucket with no control
variant serves the placement's fallback order; a pinned variant comes first in every bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

from creative.models import Placement

from .services import active_model_version


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str


def experiment_checklist(*, placement: Placement, shares: dict[str, float]) -> list[Check]:
    live = placement.variants.filter(status="live", blocked=False)
    checks = [Check(live.count() >= 2, f"{live.count()} live variant(s) to compare (at least 2 needed)")]
    if shares.get("model"):
        version = active_model_version(placement)
        checks.append(Check(version is not None, f"an active model serves the model bucket (v{version})" if version
                            else "no trained and active model: the model bucket would serve the control design; "
                                 "train one first (Placements → “Train a model now”)"))
    if shares.get("control"):
        control = placement.control_variant
        ok = control is not None and control.status == "live"
        checks.append(Check(ok, f"control variant {control.variant_key} is live" if ok else
                            "no live control variant is set on the placement: the control bucket has no fixed design"))
    pinned = list(live.filter(pinned=True).values_list("variant_key", flat=True)[:5])
    checks.append(Check(not pinned, "no pinned variants" if not pinned else
                        f"pinned variant(s) {', '.join(pinned)} come first in every bucket"))
    return checks
