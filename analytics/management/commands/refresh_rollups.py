from django.core.management.base import BaseCommand

from creative.selectors import placement_by_slug_or_none


class Command(BaseCommand):
    help = "Refresh the daily rollups of every (placement, day) that received events; --rebuild recounts all."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", metavar="PLACEMENT", help="Recount every day of this placement.")
        parser.add_argument("--recount-totals", action="store_true",
                            help="Rebuild the variants' running impression totals and the experiments' per-user "
                                 "totals from the rollups (after a restore).")

    def handle(self, *args, rebuild=None, recount_totals=False, **options):
        from analytics.rollups import (
            rebuild_rollups,
            recount_experiment_users,
            recount_impression_totals,
            refresh_rollups,
        )

        if recount_totals:
            self.stdout.write(f"Recounted the impression totals of {recount_impression_totals():,} variant(s).")
            self.stdout.write(f"Recounted the totals of {recount_experiment_users():,} experiment user(s).")
            return

        if rebuild:
            placement = placement_by_slug_or_none(rebuild)
            if placement is None:
                self.stderr.write(f"Unknown placement '{rebuild}'.")
                raise SystemExit(2)
            self.stdout.write(f"Recounted {rebuild_rollups(placement_id=placement.id)} day(s).")
            return
        self.stdout.write(f"Refreshed {refresh_rollups()} (placement, day) rollup(s).")
