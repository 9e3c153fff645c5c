from django.core.management.base import BaseCommand

from creative.models import Placement


class Command(BaseCommand):
    help = "Refresh the daily rollups of every (placement, day) that received events; --rebuild recounts all."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", metavar="PLACEMENT", help="Recount every day of this placement.")

    def handle(self, *args, rebuild=None, **options):
        from analytics.rollups import rebuild_rollups, refresh_rollups

        if rebuild:
            placement = Placement.objects.filter(slug=rebuild).first()
            if placement is None:
                self.stderr.write(f"Unknown placement '{rebuild}'.")
                raise SystemExit(2)
            self.stdout.write(f"Recounted {rebuild_rollups(placement_id=placement.id)} day(s).")
            return
        self.stdout.write(f"Refreshed {refresh_rollups()} (placement, day) rollup(s).")
