from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from access.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it once. Only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scopes", default="rank,events", help="Comma-separated: rank,events,analytics:read")
        parser.add_argument("--placements", default="",
                            help="Comma-separated placement slugs the key is limited to (default: every placement)")

    def handle(self, *args, name, scopes, placements, **options):
        try:
            issued = api_key_create(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                                    placements=[p.strip() for p in placements.split(",") if p.strip()])
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(issued.secret)
