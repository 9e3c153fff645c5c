import json

from django.core.management.base import BaseCommand, CommandError

from creative.models import Placement
from ranking import services


class Command(BaseCommand):
    help = "Train a ranker on logged decisions and events; prints one JSON line last."

    def add_arguments(self, parser):
        parser.add_argument("--placement", help="Placement slug; leave out with --general for the general model.")
        parser.add_argument("--algo", choices=["lightgbm", "logreg"], default="lightgbm")
        parser.add_argument("--general", action="store_true", help="One model over every placement's data.")
        parser.add_argument("--variant-id", action="store_true", help="Also learn a per-variant effect.")
        parser.add_argument("--activate", action="store_true")

    def handle(self, *args, placement, algo, general, variant_id, activate, **options):
        target = None
        if placement:
            target = Placement.objects.filter(slug=placement).first()
            if target is None:
                raise CommandError(f"Unknown placement '{placement}'.")
        elif not general:
            raise CommandError("Give --placement SLUG, or --general.")
        try:
            result = services.train_model(placement=target, algo=algo, activate=activate, general=general,
                                          use_variant_id=variant_id)
        except services.TrainingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"v{result.model_version} {result.algo} ({result.scope}): {result.rows} rows, "
                          f"positive rate {result.positive_rate:.4f}, calibration error "
                          f"{result.calibration_error}, {result.train_seconds:.1f}s"
                          + (", active" if result.activated else ""))
        self.stdout.write(json.dumps(result.summary()))
