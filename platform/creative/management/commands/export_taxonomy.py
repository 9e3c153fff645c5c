from pathlib import Path

from django.core.management.base import BaseCommand

from creative.services.taxonomy_io import taxonomy_dump, taxonomy_export


class Command(BaseCommand):
    help = ("Write the tag taxonomy (groups with layer, multi_valued, description and values) as YAML or JSON: "
            "to FILE (.json writes JSON, anything else YAML) or to standard output.")

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--format", choices=["yaml", "json"], default=None,
                            help="Default: from FILE's extension; YAML on standard output.")

    def handle(self, *args, file: Path | None, format: str | None, **options):  # noqa: A002 - the option's name
        fmt = format or ("json" if file is not None and file.suffix.lower() == ".json" else "yaml")
        text = taxonomy_dump(taxonomy_export(), fmt=fmt)
        if file is None:
            self.stdout.write(text, ending="")
            return
        file.write_text(text, encoding="utf-8")
        self.stderr.write(f"Wrote the taxonomy to {file}.")
