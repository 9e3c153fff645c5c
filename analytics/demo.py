"""The analytics step of `manage.py demo`: the experiment report and the top attribution findings."""

from __future__ import annotations

import pandas as pd
from django.conf import settings

from creative.demo_context import DemoContext
from creative.models import Placement
from creative.selectors import placement_by_slug
from ranking import services as ranking

TOP_FINDINGS = 5


def run(ctx: DemoContext) -> None:
    """For each placement the ranking step experimented on (ctx.extras["experiments"])."""
    from .experiments import experiment_report, format_report
    from .rollups import refresh_rollups

    refresh_rollups()
    experiments = ctx.extras.get("experiments") or {}
    if not experiments:
        ctx.say("analytics: no experiment ran, nothing to report.")
        return
    for placement_slug, experiment_slug in experiments.items():
        experiment = ranking.experiment_by_slug_or_none(experiment_slug)
        if experiment is None:
            continue
        ctx.say("")
        ctx.say(format_report(experiment_report(experiment=experiment, refresh=False)))
        placement = placement_by_slug(placement_slug)
        for line in findings_lines(placement):
            ctx.say(line)


def findings_lines(placement: Placement, frame: pd.DataFrame | None = None) -> list[str]:
    """What the demo prints about a placement's attribution: the top findings as sentences an analyst would
    repeat, tags that cannot be told apart, and where the grids are."""
    from .attribution import impression_frame, preference_analysis
    from .identifiability import catalogue_identifiability

    frame = impression_frame(placement=placement) if frame is None else frame
    analysis = preference_analysis(frame=frame, min_support=settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT) \
        if len(frame) else {"findings": [], "families_selected": 0, "families_tested": 0}
    findings = analysis["findings"]
    slug = placement.slug
    lines = [f"{slug}: {len(findings)} segment preference(s) on random-bucket data, each a segment that likes a "
             f"tag more or less than everyone else does (FDR 5% over all {analysis['families_tested']} "
             f"feature × tag-group grids){':' if findings else '.'}"]
    lines += [f"  • {finding['sentence']}" for finding in findings[:TOP_FINDINGS]]
    for note in catalogue_identifiability(placement=placement)["notes"]:
        lines.append(f"  ⚠ {note}")
    lines.append(f"  Grids: /api/v1/placements/{slug}/attribution?segment=age&tag_group=button_color ; "
                 f"identifiability: /api/v1/placements/{slug}/identifiability ; EBM: /api/v1/placements/{slug}/explain")
    return lines
