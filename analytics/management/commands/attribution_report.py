import json

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug


class Command(BaseCommand):
    help = "Print a placement's attribution findings (all features × tag groups), or one grid as JSON."

    def add_arguments(self, parser):
        parser.add_argument("placement")
        parser.add_argument("--segment", help="One user feature: print its grid against --tag-group as JSON.")
        parser.add_argument("--tag-group")
        parser.add_argument("--buckets", default="random", help="Comma-separated; other than random uses IPW.")
        parser.add_argument("--min-support", type=int, default=None)

    def handle(self, *args, placement, segment=None, tag_group=None, buckets="random", min_support=None, **opts):
        from analytics.attribution import (
            HighCardinalityFeature,
            attribution_grid,
            split_buckets,
            top_findings,
        )

        try:
            found = placement_by_slug(placement)
        except UnknownPlacement as exc:
            raise CommandError(str(exc)) from exc
        chosen = split_buckets(buckets)
        if segment or tag_group:
            if not (segment and tag_group):
                raise CommandError("--segment and --tag-group go together.")
            try:
                grid = attribution_grid(placement=found, segment=segment, tag_group=tag_group, buckets=chosen,
                                        min_support=min_support)
            except HighCardinalityFeature as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(json.dumps(grid, indent=2, ensure_ascii=False))
            return
        from analytics.identifiability import catalogue_identifiability

        findings = top_findings(placement=found, buckets=chosen, min_support=min_support)
        self.stdout.write(f"{len(findings)} finding(s) for {placement} (segments whose preference differs from "
                          f"everyone else's; FDR 5% over every feature × tag group):")
        for finding in findings:
            self.stdout.write(f"  • {finding['sentence']} (q = {finding['q_value']:.2g})")
        for note in catalogue_identifiability(placement=found)["notes"]:
            self.stdout.write(f"  ⚠ {note}")
