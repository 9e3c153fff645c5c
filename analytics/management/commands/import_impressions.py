from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from creative.models import Placement


class Command(BaseCommand):
    help = ("Import historical impressions from CSV (user_id, variant_key, clicked, optional converted, bucket, "
            "propensity, position, ts, feature:<name>...): all rows or none.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--placement", required=True)

    def handle(self, *args, file, placement, **options):
        from analytics.imports import ImportFailed, import_impressions

        found = Placement.objects.filter(slug=placement).first()
        if found is None:
            raise CommandError(f"Unknown placement '{placement}'.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                result = import_impressions(placement=found, file=handle)
        except ImportFailed as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{exc}.") from exc
        self.stdout.write(f"Imported {result.impressions:,} impressions ({result.clicks:,} clicks, "
                          f"{result.conversions:,} conversions) into {placement}"
                          + (f"; {result.duplicates:,} events were already stored." if result.duplicates else "."))
