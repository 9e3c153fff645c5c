"""The analytics step of `manage.py demo`: the experiment report and the top attribution findings."""

from __future__ import annotations

from creative.demo_context import DemoContext
from creative.models import Placement
from ranking.models import Experiment

TOP_FINDINGS = 5


def run(ctx: DemoContext) -> None:
    """For each placement the ranking step experimented on (ctx.extras["experiments"])."""
    from .attribution import top_findings
    from .experiments import experiment_report, format_report
    from .rollups import refresh_rollups

    refresh_rollups()
    experiments = ctx.extras.get("experiments") or {}
    if not experiments:
        ctx.say("analytics: no experiment ran, nothing to report.")
        return
    for placement_slug, experiment_slug in experiments.items():
        experiment = Experiment.objects.select_related("placement").filter(slug=experiment_slug).first()
        if experiment is None:
            continue
        ctx.say("")
        ctx.say(format_report(experiment_report(experiment=experiment, refresh=False)))
        placement = Placement.objects.get(slug=placement_slug)
        findings = top_findings(placement=placement)
        ctx.say(f"{placement_slug}: {len(findings)} attribution finding(s) on random-bucket data "
                f"(BH-controlled, ≥150 impressions a cell){':' if findings else '.'}")
        for finding in findings[:TOP_FINDINGS]:
            ctx.say(f"  • {finding['text']}")
        ctx.say(f"  Grids: /api/v1/placements/{placement_slug}/attribution?segment=age&tag_group=button_color ; "
                f"EBM: /api/v1/placements/{placement_slug}/explain")
