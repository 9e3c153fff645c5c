from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ranking import services


class Command(BaseCommand):
    help = "Stop a running experiment; its placement serves its default mode again."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        try:
            experiment = services.experiment_stop(slug=slug)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Stopped experiment {experiment.slug}.")
