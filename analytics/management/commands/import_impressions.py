from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug


class Command(BaseCommand):
    help = ("Import historical impressions from CSV (user_id, variant_key, clicked, optional converted, bucket, "
            "propensity, position, ts, feature:<name>...): all rows or none. Rows older than the event retention "
            "window are refused unless --historical.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--placement", required=True)
        parser.add_argument("--historical", action="store_true",
                            help="Keep rows older than the retention window: every row is stored as imported "
                                 "history, which the retention job leaves (prune_history deletes it).")

    def handle(self, *args, file, placement, historical, **options):
        from analytics.imports import ImportFailed, import_impressions

        try:
            found = placement_by_slug(placement)
        except UnknownPlacement as exc:
            raise CommandError(str(exc)) from exc
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                result = import_impressions(placement=found, file=handle, historical=historical)
        except ImportFailed as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{exc}.") from exc
        self.stdout.write(f"Imported {result.impressions:,} impressions ({result.clicks:,} clicks, "
                          f"{result.conversions:,} conversions) into {placement}"
                          + (" as imported history" if historical else "")
                          + (f"; {result.duplicates:,} events were already stored." if result.duplicates else "."))
