import json

from django.core.management.base import BaseCommand, CommandError

from ranking import services as ranking


class Command(BaseCommand):
    help = "Print an experiment's report: per-bucket CTR/CVR with intervals, lift, SRM, CUPED, health."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the API's JSON instead of a table.")
        parser.add_argument("--fixed-horizon", action="store_true",
                            help="Make the fixed-horizon p-values and intervals the headline (default: always-valid).")

    def handle(self, *args, slug, as_json=False, fixed_horizon=False, **options):
        from analytics.experiments import ExperimentReportError, experiment_report, format_report
        from analytics.rollups import refresh_rollups

        try:
            experiment = ranking.experiment_by_slug(slug)
        except ranking.UnknownRecord as exc:
            raise CommandError(str(exc)) from exc
        refresh_rollups(placement_id=experiment.placement_id)  # a command may take the time a GET may not
        try:
            report = experiment_report(experiment=experiment, refresh=False, sequential=not fixed_horizon)
        except ExperimentReportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(_dumps(report) if as_json else format_report(report))


def _dumps(report) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)
