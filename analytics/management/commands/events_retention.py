import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Drop raw events older than the retention window (whole day partitions on PostgreSQL), decisions "
            "older than KALEIDO_DECISION_RETENTION_DAYS (imported history is kept) and create the partitions of "
            "the coming days.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="Keep this many days (default KALEIDO_EVENT_RETENTION_DAYS).")

    def handle(self, *args, days=None, **options):
        from analytics.partitions import ensure_upcoming_partitions
        from analytics.rollups import apply_retention

        if days is not None and days < 1:
            self.stderr.write("--days must be at least 1.")
            raise SystemExit(2)
        result = apply_retention(days=days)
        result["created_partitions"] = [d.isoformat() for d in ensure_upcoming_partitions()]
        self.stdout.write(json.dumps(result))
