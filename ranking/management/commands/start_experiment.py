from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ranking import services


class Command(BaseCommand):
    help = "Start an A/B experiment on a placement: users split by a stable hash into control/random/model."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--placement", required=True)
        parser.add_argument("--buckets", default="control=0.2,random=0.2,model=0.6")

    def handle(self, *args, slug, placement, buckets, **options):
        try:
            experiment = services.experiment_start(slug=slug, placement=placement, buckets=buckets)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Started experiment {experiment.slug} on {placement}: {experiment.buckets}")
