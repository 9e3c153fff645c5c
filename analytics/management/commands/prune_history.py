from datetime import date

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug


class Command(BaseCommand):
    help = ("Delete a placement's imported history (rows imported with import_impressions --historical, which the "
            "retention job keeps): its decisions, events and idempotency keys; --before DATE keeps later days.")

    def add_arguments(self, parser):
        parser.add_argument("--placement", required=True)
        parser.add_argument("--before", type=date.fromisoformat, default=None,
                            help="Delete only history before this day (YYYY-MM-DD).")

    def handle(self, *args, placement, before, **options):
        from analytics.imports import prune_history

        try:
            found = placement_by_slug(placement)
        except UnknownPlacement as exc:
            raise CommandError(str(exc)) from exc
        result = prune_history(placement=found, before=before)
        self.stdout.write(f"Deleted {placement}'s imported history" + (f" before {before}" if before else "")
                          + f": {result.decisions:,} decisions, {result.events:,} events, {result.keys:,} keys.")
