import json

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug


class Command(BaseCommand):
    help = "Train the placement's EBM explanation now (in this process) and print its top terms."

    def add_arguments(self, parser):
        parser.add_argument("placement")
        parser.add_argument("--jobs", type=int, default=None,
                            help="Threads for EBM training (default: KALEIDO_EBM_JOBS, else every core).")

    def handle(self, *args, placement, jobs=None, **options):
        from analytics.explain import explanation_compute

        try:
            found = placement_by_slug(placement)
        except UnknownPlacement as exc:
            raise CommandError(str(exc)) from exc
        explanation = explanation_compute(placement_id=found.id, n_jobs=jobs)
        if explanation.status != "ready":
            raise CommandError(explanation.error)
        result = explanation.result
        self.stdout.write(json.dumps({"rows": explanation.rows, "holdout_auc": result.get("holdout_auc"),
                                      "holdout_rows": result.get("holdout_rows"), "n_jobs": result.get("n_jobs"),
                                      "terms": result["terms"][:15]}, indent=2))
