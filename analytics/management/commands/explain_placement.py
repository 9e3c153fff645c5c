import json

from django.core.management.base import BaseCommand, CommandError

from creative.models import Placement


class Command(BaseCommand):
    help = "Train the placement's EBM explanation now (in this process) and print its top terms."

    def add_arguments(self, parser):
        parser.add_argument("placement")
        parser.add_argument("--jobs", type=int, default=1, help="Threads for EBM training.")

    def handle(self, *args, placement, jobs=1, **options):
        from analytics.explain import explanation_compute

        found = Placement.objects.filter(slug=placement).first()
        if found is None:
            raise CommandError(f"Unknown placement '{placement}'.")
        explanation = explanation_compute(placement_id=found.id, n_jobs=jobs)
        if explanation.status != "ready":
            raise CommandError(explanation.error)
        self.stdout.write(json.dumps({"rows": explanation.rows, "terms": explanation.result["terms"][:15]},
                                     indent=2))
