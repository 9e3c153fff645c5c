from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from creative.services.variant_import import variants_import


class Command(BaseCommand):
    help = ("Import historical designs as live variants from a CSV/XLSX file: columns variant_key, optional default "
            "(1 = control design), headline, image (a file under MEDIA_ROOT or an http(s) URL), and tag:<group> "
            "(values joined by |; tag:presentation/<group> or tag:content/<group> names the layer). All rows or none.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--placement", required=True)
        parser.add_argument("--create-placement", action="store_true")
        parser.add_argument("--create-tags", action="store_true",
                            help="Declare the tag groups and values the file uses that the taxonomy lacks "
                                 "(layer content unless the column says tag:presentation/<group>).")

    def handle(self, *args, file: Path, placement: str, create_placement: bool, create_tags: bool, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = variants_import(path=file, placement_slug=placement, create_placement=create_placement,
                                     create_tags=create_tags)
        except ValidationError as exc:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(exc.messages)) from exc
        if result.declared_groups or result.declared_values:
            self.stdout.write(f"Declared {len(result.declared_groups)} tag group(s) and "
                              f"{len(result.declared_values)} value(s): {', '.join(result.declared_values)}")
        self.stdout.write(f"{result.placement.slug}: {result.created} variants created, {result.updated} updated"
                          + (f", control = {result.control_key}" if result.control_key else "") + ".")
