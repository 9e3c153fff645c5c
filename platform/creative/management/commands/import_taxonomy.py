from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from creative.services.taxonomy_io import taxonomy_import, taxonomy_load


class Command(BaseCommand):
    help = ("Add the tag groups and values of a YAML or JSON file (what export_taxonomy writes) to this install's "
            "taxonomy. Nothing is deleted; a group whose layer or multi_valued differs is refused. All or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            document = taxonomy_load(file.read_bytes(), fmt="json" if file.suffix.lower() == ".json" else None)
            result = taxonomy_import(document)
        except ValidationError as exc:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(exc.messages)) from exc
        self.stdout.write(f"{len(result.created_groups)} tag group(s) and {len(result.created_values)} value(s) "
                          f"added, {result.updated_descriptions} description(s) updated.")
